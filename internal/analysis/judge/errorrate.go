package judge

import (
	"fmt"

	"github.com/kanaria-dev/kanaria/internal/analysis/stats"
)

// judgeErrorRate runs the always-valid sequential test on cumulative counts.
// It returns a non-empty reason when there is no data to judge.
//
// Increase tests "canary rate ≤ (1+AllowedEffect)·baseline rate"; Decrease
// swaps the versions (the canary is worse when its proportion drops, e.g. a
// cache hit ratio); Either runs both at α/2 (Bonferroni), failing if either
// fails and passing only if both pass.
func judgeErrorRate(m Metric, in Input, alpha float64, r *MetricResult) string {
	r.CanaryCount, r.BaselineCount = in.CanaryTotal, in.BaselineTotal
	if in.CanaryTotal <= 0 || in.BaselineTotal <= 0 {
		return fmt.Sprintf("no data: %d canary and %d baseline requests", in.CanaryTotal, in.BaselineTotal)
	}
	cfg := stats.SeqPropConfig{
		Alpha: alpha, RelTolerance: m.AllowedEffect, DetectEffect: m.DetectEffect,
		MinSamples: int64(m.MinSamples),
	}
	if m.Direction == Either {
		cfg.Alpha = alpha / 2
	}
	up := func() (stats.SeqPropResult, error) {
		return stats.SequentialProportionTest(in.CanaryErrors, in.CanaryTotal, in.BaselineErrors, in.BaselineTotal, cfg)
	}
	down := func() (stats.SeqPropResult, error) {
		return stats.SequentialProportionTest(in.BaselineErrors, in.BaselineTotal, in.CanaryErrors, in.CanaryTotal, cfg)
	}
	var res stats.SeqPropResult
	var err error
	switch m.Direction {
	case Decrease:
		res, err = down()
		if err == nil {
			// Report from the canary's side: canary/baseline ∈ [1/U, 1/L].
			res.RelativeRisk = 1 / res.RelativeRisk
			res.Lower, res.Upper = 1/res.Upper, 1/res.Lower
			res.Difference = -res.Difference
			res.CanaryRate, res.BaselineRate = res.BaselineRate, res.CanaryRate
		}
	case Either:
		res, err = up()
		if err == nil {
			var d stats.SeqPropResult
			d, err = down()
			switch {
			case err != nil:
			case d.Decision == stats.Fail:
				res.Decision, res.Reason = stats.Fail, "lower than baseline: "+d.Reason
				res.EValue, res.PValue = d.EValue, d.PValue
			case res.Decision == stats.Pass && d.Decision != stats.Pass:
				res.Decision, res.Reason = stats.Inconclusive, "not yet within tolerance below baseline: "+d.Reason
			}
		}
	default:
		res, err = up()
	}
	if err != nil {
		r.Reason = "invalid counts: " + err.Error()
		return ""
	}
	r.CanaryValue, r.BaselineValue = Number(res.CanaryRate), Number(res.BaselineRate)
	r.PValue, r.EValue, r.Alpha = Number(res.PValue), Number(res.EValue), Number(cfg.Alpha)
	r.Effect = Number(res.RelativeRisk - 1)
	r.EffectLower, r.EffectUpper = Number(res.Lower-1), Number(res.Upper-1)
	r.Difference = Number(res.Difference)
	r.Verdict = verdictOf(res.Decision)
	r.Reason = res.Reason
	short := int64(m.MinSamples)
	r.NeedsData = r.Verdict == Inconclusive && (in.CanaryTotal < short || in.BaselineTotal < short)
	return ""
}

func verdictOf(d stats.Decision) Verdict {
	switch d {
	case stats.Pass:
		return Pass
	case stats.Fail:
		return Fail
	}
	return Inconclusive
}
