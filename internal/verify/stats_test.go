package verify

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func TestWilsonKnownValues(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		z      float64
		lo, hi float64 // percent
	}{
		{50, 1000, Z95, 3.81, 6.53},   // computed by hand from the formula
		{0, 1000, Z95, 0, 0.38},       // upper = z²/(n+z²)
		{1000, 1000, Z95, 99.62, 100}, // mirror image
		{500, 1000, Z95, 46.91, 53.09},
	} {
		got := Wilson(tc.k, tc.n, tc.z)
		if !near(got.LowPct, tc.lo) || !near(got.HighPct, tc.hi) {
			t.Errorf("Wilson(%d, %d) = %.4f–%.4f, want %.2f–%.2f", tc.k, tc.n, got.LowPct, got.HighPct, tc.lo, tc.hi)
		}
	}
	if w := Wilson(0, 0, Z95); w.LowPct != 0 || w.HighPct != 100 {
		t.Errorf("no data should give the whole range, got %+v", w)
	}
	a, b := Wilson(50, 1000, Z95), Wilson(50, 1000, Z999)
	if !(b.LowPct < a.LowPct && b.HighPct > a.HighPct) {
		t.Errorf("99.9%% interval %+v must contain 95%% %+v", b, a)
	}
}

func TestSummaryFormat(t *testing.T) {
	r := Result{
		Labelled: 2000, CanaryRevision: "v2", CanaryPct: 4.98, CanaryCount: 99,
		CI95: Interval{4.1, 6.04}, CI999: Interval{3.7, 6.6}, ExpectedPct: 5, SplitChecked: true, SplitOK: true,
		Shares: []RevisionShare{{"v1", 1901, 95.02}, {"v2", 99, 4.98}},
		Users:  50, StableUsers: 50, StickyOK: true, UsersByRevision: map[string]int{"v1": 47, "v2": 3},
	}
	want := "verify: canary v2 4.98% of 2000 (95% CI 4.1–6.0%, expected 5.00%) OK; stickiness 50/50 users stable OK"
	if got := r.Summary(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r.StableUsers, r.SwitchedUsers, r.StickyOK = 47, 3, false
	if got := r.Summary(); !strings.HasSuffix(got, "stickiness 47/50 users stable, 3 switched FAIL") {
		t.Errorf("got %q", got)
	}
	r.CI95 = Interval{0.03, 0.37}
	if got := r.Summary(); !strings.Contains(got, "95% CI 0.03–0.37%") {
		t.Errorf("small shares need two decimals: %q", got)
	}
}
