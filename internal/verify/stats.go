package verify

import "math"

// Two-sided standard normal quantiles. Constants rather than a distribution
// library: these are the only two levels verify uses.
const (
	// Z95 gives a 95 % interval: the one printed to users.
	Z95 = 1.959963984540054
	// Z999 gives a 99.9 % interval: the one the pass/fail rule uses.
	Z999 = 3.2905267314919255
)

// Interval is a range of percentages.
type Interval struct {
	LowPct, HighPct float64
}

// Contains reports whether pct lies in the closed interval. A tiny tolerance
// absorbs float rounding at the exact ends 0 % and 100 %.
func (i Interval) Contains(pct float64) bool {
	const eps = 1e-9
	return pct >= i.LowPct-eps && pct <= i.HighPct+eps
}

// Wilson returns the Wilson score interval, in percent, for k successes out
// of n trials at normal quantile z. Wilson rather than the textbook normal
// ("Wald") interval because canary weights are often tiny (0.1 %–5 %), where
// the Wald interval collapses to zero width at k = 0 and undercovers badly;
// Wilson keeps close to its nominal coverage there and never leaves [0, 100].
func Wilson(k, n int, z float64) Interval {
	if n <= 0 {
		return Interval{0, 100}
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi := centre-half, centre+half
	// The exact ends are known: with no successes the lower bound is 0,
	// with all successes the upper bound is 1; pin them against rounding.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return Interval{math.Max(0, lo) * 100, math.Min(1, hi) * 100}
}
