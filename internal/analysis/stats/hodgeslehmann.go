package stats

import (
	"math"
	"sort"
)

// pairDiffs answers order-statistic queries on the n·m pairwise differences
// y_j − x_i of two samples without materialising them: with both samples
// sorted, the number of differences ≤ d is counted in O(n+m) by a two-pointer
// sweep, and the k-th smallest is found by bisection on the value followed by
// an exact selection among the few differences left in the final bracket
// (the counting idea behind Johnson & Mizoguchi, "Selecting the Kth element in
// X+Y and X1+X2+...+Xm", SIAM J. Comput. 1978, and Monahan, "Fast computation
// of the Hodges-Lehmann location estimator", ACM TOMS 1984). It is exact, so
// no subsampling of pairs is needed even for 10^9 pairs.
type pairDiffs struct {
	x, y []float64 // sorted ascending; differences are y − x
}

func newPairDiffs(y, x []float64) pairDiffs {
	xs := append([]float64(nil), x...)
	ys := append([]float64(nil), y...)
	sort.Float64s(xs)
	sort.Float64s(ys)
	return pairDiffs{x: xs, y: ys}
}

// total is the number of pairs.
func (p pairDiffs) total() int64 { return int64(len(p.x)) * int64(len(p.y)) }

// countLE counts pairs with y_j − x_i ≤ d. Float subtraction is monotone in
// each argument, so the pointer j only moves forward as x_i grows.
func (p pairDiffs) countLE(d float64) int64 {
	var c int64
	j := 0
	for _, xi := range p.x {
		for j < len(p.y) && p.y[j]-xi <= d {
			j++
		}
		c += int64(j)
	}
	return c
}

// between returns every difference in (lo, hi], unsorted.
func (p pairDiffs) between(lo, hi float64) []float64 {
	var out []float64
	a, b := 0, 0
	for _, xi := range p.x {
		for a < len(p.y) && p.y[a]-xi <= lo {
			a++
		}
		if b < a {
			b = a
		}
		for b < len(p.y) && p.y[b]-xi <= hi {
			b++
		}
		for j := a; j < b; j++ {
			out = append(out, p.y[j]-xi)
		}
	}
	return out
}

// selectLimit is the bracket size below which the remaining differences are
// listed and sorted.
const selectLimit = 4096

// kth returns the k-th smallest difference, 1 ≤ k ≤ total().
//
// Each round probes two values interpolated (linearly in the count) just
// below and just above the k-th difference; when the counts are locally
// smooth the bracket shrinks by well over an order of magnitude per round,
// and a bisection step guarantees progress when they are not.
func (p pairDiffs) kth(k int64) float64 {
	n, m := len(p.x), len(p.y)
	// Invariant: countLE(lo) < k ≤ countLE(hi).
	lo := math.Nextafter(p.y[0]-p.x[n-1], math.Inf(-1))
	hi := p.y[m-1] - p.x[0]
	cLo, cHi := int64(0), p.total()
	probe := func(t float64) {
		if !(t > lo && t < hi) {
			return
		}
		if c := p.countLE(t); c >= k {
			hi, cHi = t, c
		} else {
			lo, cLo = t, c
		}
	}
	for {
		gap := cHi - cLo
		if gap <= selectLimit {
			d := p.between(lo, hi)
			sort.Float64s(d)
			return d[k-cLo-1]
		}
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			// No float between lo and hi: every difference in (lo, hi] is hi.
			return hi
		}
		delta := max(selectLimit/4, gap/64)
		at := func(c int64) float64 { return lo + (hi-lo)*float64(c-cLo)/float64(gap) }
		if k-delta > cLo {
			probe(at(k - delta))
		}
		if k+delta < cHi {
			probe(at(k + delta))
		}
		if cHi-cLo > gap/2 {
			probe(lo + (hi-lo)/2)
		}
	}
}

// median returns the median of the differences (the mean of the two middle
// ones when their number is even).
func (p pairDiffs) median() float64 {
	N := p.total()
	lower := p.kth((N + 1) / 2)
	if N%2 == 1 || p.countLE(lower) > N/2 {
		// Odd count, or the two middle differences tie.
		return lower
	}
	return (lower + p.nextAbove(lower)) / 2
}

// nextAbove returns the smallest difference > v, or v itself when there is
// none; with v the k-th difference this is the (k+1)-th unless they tie.
func (p pairDiffs) nextAbove(v float64) float64 {
	best := math.Inf(1)
	j := 0
	for _, xi := range p.x {
		for j < len(p.y) && p.y[j]-xi <= v {
			j++
		}
		if j < len(p.y) && p.y[j]-xi < best {
			best = p.y[j] - xi
		}
	}
	if math.IsInf(best, 1) {
		return v
	}
	return best
}

// HodgesLehmann is the Hodges-Lehmann estimate of the shift of y relative to
// x: the median of all pairwise differences y_j − x_i (Hodges & Lehmann,
// "Estimates of location based on rank tests", Ann. Math. Statist. 1963). It
// is the shift that makes the Mann-Whitney statistic of (y − shift, x) as
// balanced as possible. NaN when either sample is empty.
func HodgesLehmann(y, x []float64) float64 {
	if len(x) == 0 || len(y) == 0 {
		return math.NaN()
	}
	return newPairDiffs(y, x).median()
}

// ShiftConfidenceInterval is the distribution-free confidence interval for
// the shift of y relative to x that inverts the Mann-Whitney test
// (Hollander & Wolfe, Nonparametric Statistical Methods, 2nd ed. 1999, §4.3):
// [D_(C), D_(nm+1−C)], where D are the ordered pairwise differences and C the
// largest integer with P(U ≤ C−1) ≤ (1−confidence)/2 under the null. C comes
// from the exact U distribution for samples of at most 50 each, and from the
// normal approximation C = ⌊nm/2 − z·√(nm(n+m+1)/12)⌋ above that.
func ShiftConfidenceInterval(y, x []float64, confidence float64) (lo, hi float64) {
	if len(x) == 0 || len(y) == 0 {
		return math.NaN(), math.NaN()
	}
	return newPairDiffs(y, x).confidenceInterval(confidence)
}

func (p pairDiffs) confidenceInterval(confidence float64) (lo, hi float64) {
	N := p.total()
	c := shiftCIIndex(len(p.y), len(p.x), confidence)
	if c < 1 {
		return math.Inf(-1), math.Inf(1)
	}
	return p.kth(c), p.kth(N + 1 - c)
}

// shiftCIIndex returns C (see ShiftConfidenceInterval); 0 when even the
// extreme differences do not reach the confidence.
func shiftCIIndex(n1, n2 int, confidence float64) int64 {
	tail := (1 - confidence) / 2
	N := int64(n1) * int64(n2)
	if n1 <= exactCILimit && n2 <= exactCILimit {
		d := uDist(n1, n2)
		var c int64
		for c+1 <= N/2 && d.CDF(float64(c)) <= tail {
			c++
		}
		return c
	}
	z := normalQuantile(1 - tail)
	c := math.Floor(float64(N)/2 - z*math.Sqrt(float64(N)*float64(n1+n2+1)/12))
	return int64(math.Max(c, 0))
}

// exactCILimit matches go-moremath's MannWhitneyExactLimit: below it the
// exact U distribution is cheap.
const exactCILimit = 50
