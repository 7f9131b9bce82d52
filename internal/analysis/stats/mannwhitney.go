package stats

import (
	"errors"
	"math"

	mstats "github.com/aclements/go-moremath/stats"
	"gonum.org/v1/gonum/stat/distuv"
)

// Alternative is the alternative hypothesis of a location test, stated for
// the canary relative to the baseline.
type Alternative int

const (
	// Greater: the canary tends to be larger (slower, more errors).
	Greater Alternative = iota
	// Less: the canary tends to be smaller.
	Less
	// TwoSided: the canary differs in either direction.
	TwoSided
)

// MannWhitneyResult is a Mann-Whitney U test of canary against baseline with
// the Hodges-Lehmann shift and its confidence interval.
type MannWhitneyResult struct {
	// NCanary and NBaseline are the sample sizes.
	NCanary, NBaseline int
	// U counts the pairs where the canary value is greater than the baseline
	// value, ties counting one half; it lies in [0, NCanary·NBaseline].
	U float64
	// P is the p-value for Alternative, the hypothesis tested.
	P           float64
	Alternative Alternative
	// Shift is the Hodges-Lehmann estimate of canary − baseline.
	Shift float64
	// ShiftLower and ShiftUpper are the two-sided interval for Shift at
	// level Confidence.
	ShiftLower, ShiftUpper float64
	Confidence             float64
	// CanaryMedian and BaselineMedian are the sample medians.
	CanaryMedian   float64
	BaselineMedian float64
	// RelativeShift is Shift / BaselineMedian, and its limits likewise
	// (the baseline median treated as known: it is estimated far more
	// precisely than the shift). NaN when the baseline median is 0.
	RelativeShift, RelativeLower, RelativeUpper float64
}

// ErrEmpty is returned when a sample has no values.
var ErrEmpty = errors.New("stats: empty sample")

// MannWhitney runs go-moremath's Mann-Whitney U test (exact for small samples,
// normal approximation with tie and continuity corrections otherwise) on
// canary against baseline, and adds the Hodges-Lehmann shift with its
// distribution-free confidence interval at the given confidence (e.g. 0.98,
// Kayenta's default). When every value in both samples is equal the test has
// nothing to rank: P is 1 and the shift 0.
func MannWhitney(canary, baseline []float64, alt Alternative, confidence float64) (MannWhitneyResult, error) {
	r := MannWhitneyResult{NCanary: len(canary), NBaseline: len(baseline), Alternative: alt, Confidence: confidence}
	if len(canary) == 0 || len(baseline) == 0 {
		return r, ErrEmpty
	}
	hyp := mstats.LocationGreater
	switch alt {
	case Less:
		hyp = mstats.LocationLess
	case TwoSided:
		hyp = mstats.LocationDiffers
	}
	// Sort once: go-moremath sorts its own copies, which is linear work on
	// input that is already in order.
	p := newPairDiffs(canary, baseline)
	res, err := mstats.MannWhitneyUTest(p.y, p.x, hyp)
	switch {
	case errors.Is(err, mstats.ErrSamplesEqual):
		r.U = float64(len(canary)*len(baseline)) / 2
		r.P = 1
	case err != nil:
		return r, err
	default:
		r.U, r.P = res.U, res.P
	}

	r.CanaryMedian = sortedMedian(p.y)
	r.BaselineMedian = sortedMedian(p.x)
	r.Shift = p.median()
	r.ShiftLower, r.ShiftUpper = p.confidenceInterval(confidence)
	r.RelativeShift, r.RelativeLower, r.RelativeUpper = math.NaN(), math.NaN(), math.NaN()
	if r.BaselineMedian != 0 {
		b := math.Abs(r.BaselineMedian)
		r.RelativeShift = r.Shift / b
		r.RelativeLower = r.ShiftLower / b
		r.RelativeUpper = r.ShiftUpper / b
	}
	return r, nil
}

// sortedMedian is the median of an already sorted, non-empty sample.
func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// uDist is the exact null distribution of U without ties.
func uDist(n1, n2 int) mstats.UDist { return mstats.UDist{N1: n1, N2: n2} }

// normalQuantile is the standard normal quantile function.
func normalQuantile(p float64) float64 { return distuv.UnitNormal.Quantile(p) }
