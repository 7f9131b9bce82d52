package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	mstats "github.com/aclements/go-moremath/stats"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Hollander & Wolfe, Nonparametric Statistical Methods (2nd ed. 1999),
// Table 4.1 p. 110 / Example 4.1–4.3 pp. 111–129: permeability constants of
// the human chorioamnion at term (x) and at 12–26 weeks (y). Published:
// W (=U for x) = 35; exact one-sided p (x greater) = 0.1272, two-sided
// 0.2544; Hodges-Lehmann shift x − y = 0.305; exact 95 % interval
// [−0.15, 0.76]. (The same figures are R's wilcox.test example and the
// coin package's wilcox_test output for this data.)
var (
	hwTerm  = []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	hwEarly = []float64{1.15, 0.88, 0.90, 0.74, 1.21}
)

func TestMannWhitneyHollanderWolfe(t *testing.T) {
	r, err := MannWhitney(hwTerm, hwEarly, Greater, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if r.U != 35 {
		t.Errorf("U = %v, want 35", r.U)
	}
	if !near(r.P, 0.1272, 5e-5) {
		t.Errorf("one-sided p = %.5f, want 0.1272", r.P)
	}
	if !near(r.Shift, 0.305, 1e-9) {
		t.Errorf("HL shift = %v, want 0.305", r.Shift)
	}
	if !near(r.ShiftLower, -0.15, 1e-9) || !near(r.ShiftUpper, 0.76, 1e-9) {
		t.Errorf("95%% CI = [%v, %v], want [-0.15, 0.76]", r.ShiftLower, r.ShiftUpper)
	}
	two, _ := MannWhitney(hwTerm, hwEarly, TwoSided, 0.95)
	if !near(two.P, 0.2544, 5e-5) {
		t.Errorf("two-sided p = %.5f, want 0.2544", two.P)
	}
	less, _ := MannWhitney(hwEarly, hwTerm, Less, 0.95)
	if less.U != 15 || !near(less.P, 0.1272, 5e-5) || !near(less.Shift, -0.305, 1e-9) {
		t.Errorf("swapped: U=%v p=%v shift=%v, want 15, 0.1272, -0.305", less.U, less.P, less.Shift)
	}
}

// R's wilcox.test documentation-style examples with ties (normal
// approximation with continuity and tie corrections, as R prints for ties):
//
//	x <- c(1,5,9,24,56,21,3,7,21,4); y <- c(12,15,5,9,9,14,56,22,3,7,32,5)
//	wilcox.test(x, y)  # W = 51.5, p-value = 0.5966
//	y <- c(1233,4356,987,39999,1111,200000)
//	wilcox.test(x, y)  # W = 0, p-value = 0.001364
//
// go-moremath would use the exact tied distribution at these sizes, so the
// test lowers its exact limit to compare with R's approximation.
func TestMannWhitneyTiesNormalApproximation(t *testing.T) {
	old := mstats.MannWhitneyTiesExactLimit
	mstats.MannWhitneyTiesExactLimit = 0
	defer func() { mstats.MannWhitneyTiesExactLimit = old }()

	x := []float64{1, 5, 9, 24, 56, 21, 3, 7, 21, 4}
	y := []float64{12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5}
	r, err := MannWhitney(x, y, TwoSided, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if r.U != 51.5 || !near(r.P, 0.5966, 5e-5) {
		t.Errorf("U=%v p=%.5f, want 51.5, 0.5966", r.U, r.P)
	}
	y2 := []float64{1233, 4356, 987, 39999, 1111, 200000}
	r2, _ := MannWhitney(x, y2, TwoSided, 0.95)
	if r2.U != 0 || !near(r2.P, 0.001364, 5e-7) {
		t.Errorf("U=%v p=%.7f, want 0, 0.001364", r2.U, r2.P)
	}
}

func TestMannWhitneyEqualAndEmpty(t *testing.T) {
	r, err := MannWhitney([]float64{3, 3, 3}, []float64{3, 3}, Greater, 0.98)
	if err != nil || r.P != 1 || r.Shift != 0 {
		t.Errorf("all equal: %+v, %v", r, err)
	}
	if _, err := MannWhitney(nil, []float64{1}, Greater, 0.98); err != ErrEmpty {
		t.Errorf("empty canary: err = %v", err)
	}
}

func TestHodgesLehmannHandComputed(t *testing.T) {
	// y − x for x={1,2,3}, y={2,4,9}: −1,0,1,1,2,3,6,7,8 → median 2.
	if got := HodgesLehmann([]float64{2, 4, 9}, []float64{1, 2, 3}); got != 2 {
		t.Errorf("odd count: %v, want 2", got)
	}
	// y − x for x={0,10}, y={1,2}: −9,−8,1,2 → (−8+1)/2 = −3.5.
	if got := HodgesLehmann([]float64{1, 2}, []float64{0, 10}); got != -3.5 {
		t.Errorf("even count: %v, want -3.5", got)
	}
	// A pure shift is recovered exactly.
	base := []float64{10, 12, 15, 11, 30, 9}
	shifted := make([]float64, len(base))
	for i, v := range base {
		shifted[i] = v + 5
	}
	if got := HodgesLehmann(shifted, base); got != 5 {
		t.Errorf("shift: %v, want 5", got)
	}
	if !math.IsNaN(HodgesLehmann(nil, base)) {
		t.Error("empty sample should give NaN")
	}
}

// The fast selection must agree with sorting all n·m differences, with and
// without ties, for every order statistic we ask for.
func TestPairDiffsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		n, m := 1+rng.IntN(300), 1+rng.IntN(300)
		x, y := make([]float64, n), make([]float64, m)
		for i := range x {
			x[i] = math.Exp(rng.NormFloat64())
			if trial%2 == 0 {
				x[i] = math.Round(x[i] * 3)
			}
		}
		for i := range y {
			y[i] = math.Exp(rng.NormFloat64() + 0.2)
			if trial%2 == 0 {
				y[i] = math.Round(y[i] * 3)
			}
		}
		var all []float64
		for _, yj := range y {
			for _, xi := range x {
				all = append(all, yj-xi)
			}
		}
		sort.Float64s(all)
		p := newPairDiffs(y, x)
		for _, k := range []int64{1, int64(len(all)) / 3, int64(len(all)+1) / 2, int64(len(all))} {
			if k < 1 {
				continue
			}
			if got := p.kth(k); got != all[k-1] {
				t.Fatalf("trial %d n=%d m=%d k=%d: got %v want %v", trial, n, m, k, got, all[k-1])
			}
		}
	}
}

// The large-sample interval must cover a known shift at about its nominal
// rate (seeded simulation; 400 runs, 95 % interval → 380 ± 13 expected).
func TestShiftIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	covered := 0
	const runs = 400
	for i := 0; i < runs; i++ {
		x, y := make([]float64, 120), make([]float64, 80)
		for j := range x {
			x[j] = rng.ExpFloat64()
		}
		for j := range y {
			y[j] = rng.ExpFloat64() + 0.3
		}
		lo, hi := ShiftConfidenceInterval(y, x, 0.95)
		if lo <= 0.3 && 0.3 <= hi {
			covered++
		}
	}
	if covered < 360 || covered > 398 {
		t.Errorf("95%% interval covered %d/%d", covered, runs)
	}
}

// Even counts: the median is the mean of the two middle differences, also
// when they tie, checked against sorting every difference.
func TestHodgesLehmannMatchesBruteForceMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 30; trial++ {
		n, m := 2*(1+rng.IntN(60)), 1+rng.IntN(60)
		x, y := make([]float64, n), make([]float64, m)
		for i := range x {
			x[i] = math.Round(rng.NormFloat64() * 2)
		}
		for i := range y {
			y[i] = math.Round(rng.NormFloat64()*2 + 1)
		}
		var all []float64
		for _, yj := range y {
			for _, xi := range x {
				all = append(all, yj-xi)
			}
		}
		sort.Float64s(all)
		N := len(all)
		want := all[N/2]
		if N%2 == 0 {
			want = (all[N/2-1] + all[N/2]) / 2
		}
		if got := HodgesLehmann(y, x); got != want {
			t.Fatalf("trial %d: got %v want %v", trial, got, want)
		}
	}
}
