package judge

import (
	"fmt"
	"math"

	"github.com/kanaria-dev/kanaria/internal/analysis/stats"
)

// spentAlpha is the level of look k (1-based) when a fixed-sample test is
// re-run every tick: α·6/(π²k²) sums to α over infinitely many looks, so by
// the union bound the chance of any false Fail stays ≤ α however long the
// analysis runs. It costs little power here because per-request samples are
// plentiful. k ≤ 0 means a single look.
func spentAlpha(alpha float64, k int) float64 {
	if k <= 0 {
		return alpha
	}
	return alpha * 6 / (math.Pi * math.Pi * float64(k) * float64(k))
}

// judgeLatency compares raw per-request samples with Mann-Whitney U and a
// Hodges-Lehmann shift, relative to the baseline median. It returns a
// non-empty reason when there is no data to judge.
//
// Fail (Kayenta's rule, on per-request samples): the shift is significant at
// the spent level in the worse direction AND its estimate is beyond
// AllowedEffect. Pass: at least MinSamples per version and, with a tolerance,
// the confidence bound on the worse side within AllowedEffect (evidence the
// canary is not worse than tolerated); without a tolerance, no significant
// worsening (Kayenta's rule).
func judgeLatency(m Metric, in Input, alpha float64, look int, r *MetricResult) string {
	r.CanaryCount, r.BaselineCount = int64(len(in.Canary)), int64(len(in.Baseline))
	if len(in.Canary) == 0 || len(in.Baseline) == 0 {
		return fmt.Sprintf("no data: %d canary and %d baseline samples", len(in.Canary), len(in.Baseline))
	}
	a := spentAlpha(alpha, look)
	alt, conf := stats.Greater, 1-2*a
	switch m.Direction {
	case Decrease:
		alt = stats.Less
	case Either:
		alt, conf = stats.TwoSided, 1-a
	}
	res, err := stats.MannWhitney(in.Canary, in.Baseline, alt, conf)
	if err != nil {
		r.Reason = "Mann-Whitney: " + err.Error()
		return ""
	}
	r.Alpha, r.PValue, r.Statistic = Number(a), Number(res.P), Number(res.U)
	r.CanaryValue, r.BaselineValue = Number(res.CanaryMedian), Number(res.BaselineMedian)
	r.Difference = Number(res.Shift)
	r.Effect, r.EffectLower, r.EffectUpper = Number(res.RelativeShift), Number(res.RelativeLower), Number(res.RelativeUpper)

	// Compare in relative terms; when the baseline median is 0 the
	// relative effect is undefined and the shift itself must stay at 0.
	eff, lo, hi := res.RelativeShift, res.RelativeLower, res.RelativeUpper
	if math.IsNaN(eff) {
		eff, lo, hi = res.Shift, res.ShiftLower, res.ShiftUpper
	}
	tol := m.AllowedEffect
	var beyond, within bool
	switch m.Direction {
	case Decrease:
		beyond, within = eff < -tol, lo >= -tol
	case Either:
		beyond, within = math.Abs(eff) > tol, lo >= -tol && hi <= tol
	default:
		beyond, within = eff > tol, hi <= tol
	}
	significant := res.P < a
	enough := len(in.Canary) >= m.MinSamples && len(in.Baseline) >= m.MinSamples
	summary := fmt.Sprintf("median %.4g vs %.4g, shift %+.1f%% [%+.1f%%, %+.1f%%], U = %.0f, p = %.3g (α = %.3g), allowed ±%.0f%%",
		res.CanaryMedian, res.BaselineMedian, 100*res.RelativeShift, 100*res.RelativeLower, 100*res.RelativeUpper,
		res.U, res.P, a, 100*tol)
	switch {
	case !enough:
		r.NeedsData = true
		r.Reason = fmt.Sprintf("waiting for %d samples per version (canary %d, baseline %d)", m.MinSamples, len(in.Canary), len(in.Baseline))
	case significant && beyond:
		r.Verdict, r.Reason = Fail, "worse: "+summary
	case tol > 0 && within:
		r.Verdict, r.Reason = Pass, "within tolerance: "+summary
	case tol == 0 && !significant:
		r.Verdict, r.Reason = Pass, "no significant change: "+summary
	default:
		r.Reason = "not enough evidence either way: " + summary
	}
	return ""
}
