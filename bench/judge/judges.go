package main

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/stats"
	"gonum.org/v1/gonum/stat/distuv"
)

// judgeSim is one way of deciding about a canary, fed tick by tick. observe
// returns true when the judge fails the canary at this look; the harness
// stops feeding a judge once it has failed.
type judgeSim interface {
	observe(k tick, look int) bool
}

// judgeSpec names a judge and builds a fresh one per run from the run's seed.
type judgeSpec struct {
	name    string
	latency bool // whether the judge looks at latency at all
	// productLook feeds the judge at the product's default look interval
	// (v1alpha1.DefaultRouterInterval: the router's metrics are judged that
	// often) instead of every tick; look numbers count those looks.
	productLook bool
	make        func(seed uint64) judgeSim
}

// ---------------------------------------------------------------------------
// kanaria: the product's judge, re-run on cumulative data every tick.

type kanariaJudge struct {
	in      judge.Input
	lat     judge.Input
	metrics []judge.Metric
	// Latency samples are kept in a uniform reservoir per version (Vitter's
	// algorithm R), as a bounded-memory provider would keep them; the
	// error counts are complete.
	cRes, bRes reservoir
}

// reservoirSize bounds the latency samples per version given to the judge.
const reservoirSize = 4000

func newKanaria(seed uint64) judgeSim {
	rng := rand.New(rand.NewPCG(seed, 0x72657365727631))
	return &kanariaJudge{cRes: reservoir{rng: rng}, bRes: reservoir{rng: rng}, metrics: []judge.Metric{
		// Error rate: mixture SPRT at α = 1 %, tuned to a doubling (the
		// same effect the fixed-horizon test is sized for).
		{Name: "errors", Kind: judge.ErrorRate, Critical: true, MinSamples: 2000},
		// Latency: Mann-Whitney + Hodges-Lehmann, 10 % allowed increase.
		{Name: "latency", Kind: judge.Latency, Critical: true, AllowedEffect: 0.10, MinSamples: 500},
	}}
}

func (j *kanariaJudge) observe(k tick, look int) bool {
	j.in.CanaryErrors += int64(k.canaryErr)
	j.in.CanaryTotal += int64(k.canaryN)
	j.in.BaselineErrors += int64(k.baselineErr)
	j.in.BaselineTotal += int64(k.baselineN)
	j.cRes.add(k.canaryLat)
	j.bRes.add(k.baselineLat)
	j.lat.Canary, j.lat.Baseline = j.cRes.s, j.bRes.s
	rep := judge.Judge(j.metrics, map[string]judge.Input{"errors": j.in, "latency": j.lat}, judge.Config{Look: look})
	return rep.Verdict == judge.Fail
}

// reservoir is a uniform sample of at most reservoirSize values.
type reservoir struct {
	rng  *rand.Rand
	s    []float64
	seen int
}

func (r *reservoir) add(vs []float64) {
	for _, v := range vs {
		r.seen++
		if len(r.s) < reservoirSize {
			r.s = append(r.s, v)
		} else if i := r.rng.IntN(r.seen); i < reservoirSize {
			r.s[i] = v
		}
	}
}

// kanariaErrors is the error-rate metric alone, looked at as often as the
// product looks (every second by default): an always-valid test may be
// checked as often as data arrive.
type kanariaErrors struct {
	in      judge.Input
	metrics []judge.Metric
}

func newKanariaErrors(uint64) judgeSim {
	return &kanariaErrors{metrics: newKanaria(0).(*kanariaJudge).metrics[:1]}
}

func (j *kanariaErrors) observe(k tick, look int) bool {
	j.in.CanaryErrors += int64(k.canaryErr)
	j.in.CanaryTotal += int64(k.canaryN)
	j.in.BaselineErrors += int64(k.baselineErr)
	j.in.BaselineTotal += int64(k.baselineN)
	rep := judge.Judge(j.metrics, map[string]judge.Input{"errors": j.in}, judge.Config{Look: look})
	return rep.Verdict == judge.Fail
}

// ---------------------------------------------------------------------------
// Fixed-horizon two-proportion z-test: one look once both versions have the
// planned sample size, one-sided at α.

type fixedZ struct {
	n              int
	cn, bn, ce, be int
	done           bool
	zCrit          float64
}

// fixedHorizonN is the per-version sample size of a one-sided two-proportion
// z-test at level alpha with the given power against p1 → p2 (Fleiss,
// Statistical Methods for Rates and Proportions, unpooled-variance formula
// without continuity correction).
func fixedHorizonN(p1, p2, alpha, power float64) int {
	za := distuv.UnitNormal.Quantile(1 - alpha)
	zb := distuv.UnitNormal.Quantile(power)
	v := p1*(1-p1) + p2*(1-p2)
	return int(math.Ceil((za + zb) * (za + zb) * v / ((p2 - p1) * (p2 - p1))))
}

func newFixedZ(n int, alpha float64) func(uint64) judgeSim {
	z := distuv.UnitNormal.Quantile(1 - alpha)
	return func(uint64) judgeSim { return &fixedZ{n: n, zCrit: z} }
}

func (f *fixedZ) observe(k tick, _ int) bool {
	f.cn += k.canaryN
	f.bn += k.baselineN
	f.ce += k.canaryErr
	f.be += k.baselineErr
	if f.done || f.cn < f.n || f.bn < f.n {
		return false
	}
	f.done = true
	pc, pb := float64(f.ce)/float64(f.cn), float64(f.be)/float64(f.bn)
	p := float64(f.ce+f.be) / float64(f.cn+f.bn)
	se := math.Sqrt(p * (1 - p) * (1/float64(f.cn) + 1/float64(f.bn)))
	return se > 0 && (pc-pb)/se > f.zCrit
}

// ---------------------------------------------------------------------------
// Flagger-style: each interval, fail the check when the canary's error rate
// or p99 latency crosses a fixed threshold; roll back after N consecutive
// failed checks.

type flagger struct {
	errThr, p99Thr float64
	n, streak      int
}

func newFlagger(errThr, p99Thr float64, n int) func(uint64) judgeSim {
	return func(uint64) judgeSim { return &flagger{errThr: errThr, p99Thr: p99Thr, n: n} }
}

func (f *flagger) observe(k tick, _ int) bool {
	if k.canaryN == 0 {
		return false
	}
	failed := float64(k.canaryErr)/float64(k.canaryN) > f.errThr || quantile(k.canaryLat, 0.99) > f.p99Thr
	if failed {
		f.streak++
	} else {
		f.streak = 0
	}
	return f.streak >= f.n
}

func quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(math.Min(float64(len(s)-1), math.Floor(q*float64(len(s)))))]
}

// ---------------------------------------------------------------------------
// Kayenta-style: per-minute aggregates (error rate, mean latency) per
// version; at every minute, a two-sided Mann-Whitney on the points so far at
// 98 % confidence (NetflixACAJudge's default); a metric whose canary is
// significantly higher is "High" and fails the analysis (both metrics are
// critical, and with two metrics one High already puts the score at 50,
// below the marginal 75).

type kayenta struct {
	ticksPerMin            int
	cn, bn, ce, be         int
	cSum, bSum             float64
	cErr, bErr, cLat, bLat []float64
}

func newKayenta(ticksPerMin int) func(uint64) judgeSim {
	return func(uint64) judgeSim { return &kayenta{ticksPerMin: ticksPerMin} }
}

func (j *kayenta) observe(k tick, look int) bool {
	j.cn += k.canaryN
	j.bn += k.baselineN
	j.ce += k.canaryErr
	j.be += k.baselineErr
	for _, v := range k.canaryLat {
		j.cSum += v
	}
	for _, v := range k.baselineLat {
		j.bSum += v
	}
	if look%j.ticksPerMin != 0 || j.cn == 0 || j.bn == 0 {
		return false
	}
	j.cErr = append(j.cErr, float64(j.ce)/float64(j.cn))
	j.bErr = append(j.bErr, float64(j.be)/float64(j.bn))
	j.cLat = append(j.cLat, j.cSum/float64(j.cn))
	j.bLat = append(j.bLat, j.bSum/float64(j.bn))
	j.cn, j.bn, j.ce, j.be, j.cSum, j.bSum = 0, 0, 0, 0, 0, 0
	return high(j.cErr, j.bErr) || high(j.cLat, j.bLat)
}

// high is Kayenta's MannWhitneyClassifier verdict "High": significantly
// different at 98 % confidence with the canary above the baseline.
func high(canary, baseline []float64) bool {
	r, err := stats.MannWhitney(canary, baseline, stats.TwoSided, 0.98)
	return err == nil && r.P < 0.02 && r.Shift > 0
}
