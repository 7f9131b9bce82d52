package stats

import (
	"errors"
	"fmt"
	"math"
)

// SeqPropConfig configures SequentialProportionTest. The zero value is usable:
// every field has a documented default.
type SeqPropConfig struct {
	// Alpha is the false alarm rate: the probability that a canary that is
	// not worse than the tolerance is ever failed, however often the test
	// is looked at. Default 0.01.
	Alpha float64
	// RelTolerance is the tolerated relative increase of the error rate:
	// the null hypothesis is p_canary ≤ (1+RelTolerance)·p_baseline.
	RelTolerance float64
	// AbsTolerance is a tolerated absolute increase of the error rate
	// (0.001 = 0.1 percentage points). The test works on relative risk, so
	// it is converted at the observed baseline rate; with it the guarantee
	// is approximate (a plug-in), without it exact.
	AbsTolerance float64
	// DetectEffect is the relative increase beyond the tolerance that the
	// test is tuned to catch fastest: the mixing distribution is centred on
	// it. It plays the role of the effect a fixed-horizon test is sized for.
	// Default 1.0 (a doubling of the error rate).
	DetectEffect float64
	// Spread is the standard deviation of the mixing distribution on the log
	// relative risk. Wider is more robust to effects far from DetectEffect,
	// narrower is faster at DetectEffect. Default 0.25 (about ×0.8 to ×1.25
	// around the design effect at one standard deviation).
	Spread float64
	// TrafficRatio is the canary:baseline routing share ratio (1 when the
	// baseline gets the canary's weight, as kanaria's router does). When 0
	// the realised ratio of request counts is used.
	TrafficRatio float64
	// MinSamples is the number of requests each version needs before the
	// test may Pass. Fail needs no minimum: the test is valid at any time.
	MinSamples int64
}

// Defaults used when a SeqPropConfig field is zero.
const (
	DefaultAlpha        = 0.01
	DefaultDetectEffect = 1.0
	DefaultSpread       = 0.25
)

func (c SeqPropConfig) withDefaults() SeqPropConfig {
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = DefaultAlpha
	}
	if c.DetectEffect <= 0 {
		c.DetectEffect = DefaultDetectEffect
	}
	if c.Spread <= 0 {
		c.Spread = DefaultSpread
	}
	return c
}

// SeqPropResult is the state of the sequential test at one moment, with the
// numbers a verdict shows.
type SeqPropResult struct {
	// CanaryErrors, CanaryTotal, BaselineErrors and BaselineTotal echo the
	// cumulative counts the result was computed from.
	CanaryErrors, CanaryTotal     int64
	BaselineErrors, BaselineTotal int64
	// CanaryRate and BaselineRate are the observed error rates.
	CanaryRate, BaselineRate float64
	// Difference is CanaryRate − BaselineRate.
	Difference float64
	// RelativeRisk is CanaryRate / BaselineRate (+Inf when only the canary
	// has errors, 1 when neither has).
	RelativeRisk float64
	// NullRatio is the largest tolerated relative risk (1 + tolerances);
	// Fail means evidence that the true relative risk is above it.
	NullRatio float64
	// BadRatio is NullRatio·(1+DetectEffect); Pass means evidence that the
	// true relative risk is below it.
	BadRatio float64
	// EValue is the mixture likelihood ratio against "the canary is not
	// worse than NullRatio"; Fail when it reaches 1/Alpha.
	EValue float64
	// PValue is the always-valid p-value at this moment, min(1, 1/EValue).
	// Callers that keep history may take its running minimum.
	PValue float64
	// PassEValue is the mixture likelihood ratio against "the relative
	// risk is at least BadRatio"; Pass when it reaches 1/Alpha.
	PassEValue float64
	// Lower and Upper bound the relative risk: a confidence sequence whose
	// coverage holds at all times simultaneously with probability ≥ 1−2α.
	Lower, Upper float64
	// Alpha is the false alarm rate used (after defaults).
	Alpha float64
	// Decision is Fail, Pass or Inconclusive; Reason says why in one line.
	Decision Decision
	Reason   string
}

// ErrCounts reports impossible counts (negative, or more errors than requests).
var ErrCounts = errors.New("stats: error counts must be 0 ≤ errors ≤ total")

// ErrTolerance reports a tolerance that allows no error rate at all.
var ErrTolerance = errors.New("stats: tolerances must keep 1 + RelTolerance > 0 and AbsTolerance ≥ 0")

// SequentialProportionTest decides whether the canary's error rate is worse
// than the baseline's, in a way that stays valid under continuous monitoring.
//
// Method. Each request goes to the canary or the baseline independently of
// whether it fails, so the stream of *failed* requests is an i.i.d. sequence
// of labels "canary" with probability q = ρr/(ρr+1), where ρ is the relative
// risk p_canary/p_baseline and r the traffic ratio (the Poisson-conditioning
// device of Lindon & Malek, "Anytime-valid inference for multinomial count
// data", NeurIPS 2022, used for Netflix's canaries in Lindon et al., "Rapid
// regression detection in software deployments through sequential testing",
// KDD 2022). Testing ρ ≤ ρ0 becomes testing q ≤ q0 on that stream, with no
// normal approximation and no nuisance parameter. The statistic is a mixture
// likelihood ratio (Robbins 1970; the mSPRT of Johari, Pekelis & Walsh,
// "Always valid inference", Operations Research 2022) with the mixing
// distribution a normal on log(ρ/ρ0) centred at log(1+DetectEffect),
// truncated to ρ > ρ0 (a one-sided test: fail only when the canary is worse)
// and discretised on a grid. Each component is a nonnegative supermartingale
// under the null, so is any convex combination, and Ville's inequality
// bounds the chance it ever reaches 1/α by α. The statistic depends on the
// cumulative counts only, so it can be recomputed every tick.
//
// Pass uses the mirror-image test of ρ ≥ BadRatio; the two together give the
// confidence sequence [Lower, Upper] (Howard, Ramdas, McAuliffe & Sekhon,
// "Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals
// of Statistics 2021). When neither version has any error after MinSamples
// requests, the test passes: there is nothing for a relative test to weigh.
func SequentialProportionTest(canaryErrors, canaryTotal, baselineErrors, baselineTotal int64, cfg SeqPropConfig) (SeqPropResult, error) {
	cfg = cfg.withDefaults()
	r := SeqPropResult{
		CanaryErrors: canaryErrors, CanaryTotal: canaryTotal,
		BaselineErrors: baselineErrors, BaselineTotal: baselineTotal,
		Alpha: cfg.Alpha, EValue: 1, PValue: 1, PassEValue: 1,
		Lower: 0, Upper: math.Inf(1), RelativeRisk: math.NaN(),
	}
	if canaryErrors < 0 || baselineErrors < 0 || canaryErrors > canaryTotal || baselineErrors > baselineTotal {
		return r, ErrCounts
	}
	if cfg.RelTolerance <= -1 || cfg.AbsTolerance < 0 {
		return r, ErrTolerance
	}
	if canaryTotal == 0 || baselineTotal == 0 {
		r.Reason = fmt.Sprintf("no data: canary %d requests, baseline %d requests", canaryTotal, baselineTotal)
		return r, nil
	}
	r.CanaryRate = float64(canaryErrors) / float64(canaryTotal)
	r.BaselineRate = float64(baselineErrors) / float64(baselineTotal)
	r.Difference = r.CanaryRate - r.BaselineRate
	switch {
	case baselineErrors > 0:
		r.RelativeRisk = r.CanaryRate / r.BaselineRate
	case canaryErrors > 0:
		r.RelativeRisk = math.Inf(1)
	default:
		r.RelativeRisk = 1
	}

	ratio := cfg.TrafficRatio
	if ratio <= 0 {
		ratio = float64(canaryTotal) / float64(baselineTotal)
	}
	r.NullRatio = 1 + cfg.RelTolerance
	if cfg.AbsTolerance > 0 {
		// Plug-in conversion; the +0.5/+1 keeps it finite at zero errors.
		pb := (float64(baselineErrors) + 0.5) / (float64(baselineTotal) + 1)
		r.NullRatio += cfg.AbsTolerance / pb
	}
	r.BadRatio = r.NullRatio * (1 + cfg.DetectEffect)

	m := newMixture(cfg.DetectEffect, cfg.Spread)
	k, b := float64(canaryErrors), float64(baselineErrors)
	logInvAlpha := math.Log(1 / cfg.Alpha)

	logE := m.logE(k, b, math.Log(r.NullRatio*ratio), +1)
	logPass := m.logE(k, b, math.Log(r.BadRatio*ratio), -1)
	r.EValue = math.Exp(logE)
	r.PValue = math.Min(1, math.Exp(-logE))
	r.PassEValue = math.Exp(logPass)
	r.Lower, r.Upper = m.confidenceSequence(k, b, math.Log(ratio), logInvAlpha)

	switch {
	case logE >= logInvAlpha:
		r.Decision = Fail
		r.Reason = fmt.Sprintf("error rate %.4g%% vs baseline %.4g%% (relative risk %.3g): e-value %.3g ≥ 1/α = %.0f",
			100*r.CanaryRate, 100*r.BaselineRate, r.RelativeRisk, r.EValue, 1/cfg.Alpha)
	case canaryTotal < cfg.MinSamples || baselineTotal < cfg.MinSamples:
		r.Reason = fmt.Sprintf("waiting for %d requests per version (canary %d, baseline %d)",
			cfg.MinSamples, canaryTotal, baselineTotal)
	case logPass >= logInvAlpha:
		r.Decision = Pass
		r.Reason = fmt.Sprintf("relative risk ≤ %.3g with confidence (upper bound %.3g < %.3g)",
			r.BadRatio, r.Upper, r.BadRatio)
	case canaryErrors == 0 && baselineErrors == 0:
		r.Decision = Pass
		r.Reason = fmt.Sprintf("no errors in either version after %d canary and %d baseline requests", canaryTotal, baselineTotal)
	default:
		r.Reason = fmt.Sprintf("not enough evidence yet: relative risk %.3g, confidence sequence [%.3g, %.3g], e-value %.3g",
			r.RelativeRisk, r.Lower, r.Upper, r.EValue)
	}
	return r, nil
}
