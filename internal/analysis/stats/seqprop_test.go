package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestSeqPropNoDataAndBadCounts(t *testing.T) {
	r, err := SequentialProportionTest(0, 0, 3, 100, SeqPropConfig{})
	if err != nil || r.Decision != Inconclusive || r.Reason == "" {
		t.Errorf("no canary data: %v %+v", err, r)
	}
	if _, err := SequentialProportionTest(5, 4, 0, 10, SeqPropConfig{}); err != ErrCounts {
		t.Errorf("errors > total: err = %v", err)
	}
	if _, err := SequentialProportionTest(1, 4, 0, 10, SeqPropConfig{RelTolerance: -1}); err != ErrTolerance {
		t.Errorf("tolerance -100%%: err = %v", err)
	}
}

// With no errors anywhere the relative test has nothing to weigh: e-value 1,
// and a Pass only once the minimum samples are there.
func TestSeqPropNoErrors(t *testing.T) {
	r, _ := SequentialProportionTest(0, 100, 0, 100, SeqPropConfig{MinSamples: 500})
	if r.EValue != 1 || r.PValue != 1 || r.Decision != Inconclusive {
		t.Errorf("below min samples: %+v", r)
	}
	r, _ = SequentialProportionTest(0, 600, 0, 600, SeqPropConfig{MinSamples: 500})
	if r.Decision != Pass {
		t.Errorf("no errors after min samples: %v (%s)", r.Decision, r.Reason)
	}
}

// The e-value is a likelihood ratio on the error labels; with one mixing
// component it must equal the hand-computed binomial likelihood ratio.
func TestSeqPropSingleComponentLikelihoodRatio(t *testing.T) {
	m := mixture{x: []float64{math.Log(2)}, logW: []float64{0}}
	// Equal traffic, null ρ0 = 1 → q0 = 1/2; alternative ρ = 2 → q = 2/3.
	// 7 canary and 3 baseline errors: (4/3)^7 (2/3)^3 = 131072/59049 ≈ 2.2197.
	got := math.Exp(m.logE(7, 3, 0, +1))
	if !near(got, 131072.0/59049.0, 1e-12) {
		t.Errorf("LR = %v, want %v", got, 131072.0/59049.0)
	}
}

func TestSeqPropClearCases(t *testing.T) {
	bad, _ := SequentialProportionTest(60, 1000, 10, 1000, SeqPropConfig{})
	if bad.Decision != Fail || bad.PValue > 0.01 || bad.Lower <= 1 {
		t.Errorf("6%% vs 1%%: %v p=%v CS=[%v,%v] (%s)", bad.Decision, bad.PValue, bad.Lower, bad.Upper, bad.Reason)
	}
	good, _ := SequentialProportionTest(200, 20000, 200, 20000, SeqPropConfig{MinSamples: 1000})
	if good.Decision != Pass || good.Upper >= 2 || good.Lower > 1 || good.Upper < 1 {
		t.Errorf("equal 1%%: %v CS=[%v,%v] (%s)", good.Decision, good.Lower, good.Upper, good.Reason)
	}
	// A tolerated 150 % increase: a doubling is within tolerance.
	tol, _ := SequentialProportionTest(200, 10000, 100, 10000, SeqPropConfig{RelTolerance: 1.5})
	if tol.Decision == Fail {
		t.Errorf("doubling within 150%% tolerance failed: %s", tol.Reason)
	}
	// Better canary never fails (one-sided).
	better, _ := SequentialProportionTest(10, 1000, 60, 1000, SeqPropConfig{})
	if better.Decision == Fail {
		t.Errorf("better canary failed: %s", better.Reason)
	}
}

// simulate runs `runs` canaries of `looks` ticks with `perTick` requests per
// version per tick and returns the fraction failed and the median number of
// canary requests at failure (0 if fewer than half failed).
func simulate(seed uint64, runs, looks, perTick int, pc, pb float64, cfg SeqPropConfig) (failRate float64, coverageMiss float64) {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	bc := distuv.Binomial{N: float64(perTick), P: pc, Src: src}
	bb := distuv.Binomial{N: float64(perTick), P: pb, Src: src}
	trueRR := pc / pb
	fails, misses := 0, 0
	for r := 0; r < runs; r++ {
		var kc, kb, n int64
		missed := false
		for l := 0; l < looks; l++ {
			kc += int64(bc.Rand())
			kb += int64(bb.Rand())
			n += int64(perTick)
			res, _ := SequentialProportionTest(kc, n, kb, n, cfg)
			if res.Lower > trueRR || res.Upper < trueRR {
				missed = true
			}
			if res.Decision == Fail {
				fails++
				break
			}
		}
		if missed {
			misses++
		}
	}
	return float64(fails) / float64(runs), float64(misses) / float64(runs)
}

// A/A with 120 looks (every 10 s for 20 minutes at 50 requests/s per
// version): the chance of ever failing must stay ≤ α = 1 %. With 2,000 runs
// the Monte-Carlo standard error at 1 % is 0.22 %, so the bound checked is
// α + 3 SE. Seeded, so the figure is reproducible (measured: see the log).
func TestSeqPropFalseAlarmRateUnderContinuousMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rate, miss := simulate(42, 2000, 120, 500, 0.01, 0.01, SeqPropConfig{Alpha: 0.01})
	t.Logf("A/A false alarms over 120 looks: %.2f%%; confidence sequence ever missed ρ=1: %.2f%%", 100*rate, 100*miss)
	if rate > 0.01+3*math.Sqrt(0.01*0.99/2000) {
		t.Errorf("false alarm rate %.3f exceeds α = 0.01", rate)
	}
	if miss > 0.02+3*math.Sqrt(0.02*0.98/2000) {
		t.Errorf("confidence sequence miss rate %.3f exceeds 2α", miss)
	}
}

// Looking after every 20 requests instead of every 500 must not inflate the
// false alarm rate either (the guarantee is for continuous monitoring).
func TestSeqPropFalseAlarmRateEveryFewRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rate, _ := simulate(43, 1000, 500, 20, 0.02, 0.02, SeqPropConfig{Alpha: 0.01})
	t.Logf("A/A false alarms over 500 looks: %.2f%%", 100*rate)
	if rate > 0.01+3*math.Sqrt(0.01*0.99/1000) {
		t.Errorf("false alarm rate %.3f exceeds α = 0.01", rate)
	}
}

// Power on a clearly bad canary: 2 % errors against 1 % at 50 requests/s per
// version, 10 minutes of 10-second looks.
func TestSeqPropPowerOnDoubledErrorRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rate, miss := simulate(44, 1000, 60, 500, 0.02, 0.01, SeqPropConfig{Alpha: 0.01})
	t.Logf("power for 2x errors within 10 minutes: %.1f%%; CS ever missed ρ=2: %.2f%%", 100*rate, 100*miss)
	if rate < 0.95 {
		t.Errorf("power %.3f < 0.95", rate)
	}
	if miss > 0.02+3*math.Sqrt(0.02*0.98/1000) {
		t.Errorf("confidence sequence miss rate %.3f exceeds 2α", miss)
	}
}

func BenchmarkSequentialProportionTest(b *testing.B) {
	for i := 0; i < b.N; i++ {
		SequentialProportionTest(int64(50+i%7), 5000, 40, 5000, SeqPropConfig{MinSamples: 1000})
	}
}

// A smaller effect than the one the mixture is centred on (1.5× instead of
// 2×) is still caught within the horizon most of the time: the mixture's
// spread buys robustness the point-mass SPRT lacks.
func TestSeqPropPowerOnSmallerEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rate, _ := simulate(45, 1000, 60, 500, 0.015, 0.01, SeqPropConfig{Alpha: 0.01})
	t.Logf("power for 1.5x errors within 10 minutes: %.1f%%", 100*rate)
	if rate < 0.90 {
		t.Errorf("power %.3f < 0.90", rate)
	}
}

// An absolute tolerance of 1 percentage point covers a 1 % → 2 % change.
func TestSeqPropAbsoluteTolerance(t *testing.T) {
	r, _ := SequentialProportionTest(200, 10000, 100, 10000, SeqPropConfig{AbsTolerance: 0.01})
	if r.Decision == Fail || r.NullRatio < 1.9 {
		t.Errorf("within 1 pp tolerance: %v null ratio %v (%s)", r.Decision, r.NullRatio, r.Reason)
	}
}
