// Package stats holds the statistics behind kanaria's canary judge:
//
//   - SequentialProportionTest: an always-valid (anytime) test of "the canary's
//     error rate is no worse than the baseline's", safe to re-evaluate on every
//     tick from cumulative counts alone (mixture SPRT on the conditional
//     Bernoulli stream of errors; Robbins 1970, Johari et al. 2017/2022,
//     Lindon & Malek 2022).
//   - MannWhitney: Mann-Whitney U with a Hodges-Lehmann shift estimate and its
//     distribution-free confidence interval (Hollander & Wolfe 1999, §4.2–4.3).
//
// Nothing here does I/O or keeps state between calls: every function is a pure
// function of the numbers passed in, so the judge can be re-run at any moment
// and give the same answer for the same data.
package stats

// Decision is the outcome of a single statistical test.
type Decision int

const (
	// Inconclusive means the data do not (yet) support either conclusion.
	Inconclusive Decision = iota
	// Pass means there is enough evidence that the canary is not worse than
	// the tolerated effect.
	Pass
	// Fail means there is enough evidence that the canary is worse than the
	// tolerated effect.
	Fail
)

// String names the decision the way reports and logs print it.
func (d Decision) String() string {
	switch d {
	case Pass:
		return "Pass"
	case Fail:
		return "Fail"
	default:
		return "Inconclusive"
	}
}
