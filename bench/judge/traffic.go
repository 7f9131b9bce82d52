package main

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// scenario is one kind of canary the simulator releases.
type scenario struct {
	name string
	// Error rates and median latencies (ms) per version; latencies are
	// lognormal with the same log-sd for both.
	canaryErr, baselineErr float64
	canaryMed, baselineMed float64
}

// traffic holds the simulated set-up shared by every judge.
type traffic struct {
	rps        float64 // total requests per second reaching the router
	weight     float64 // canary weight; the baseline gets the same
	tickSec    float64 // evaluation interval
	ticks      int     // horizon in ticks
	sigma      float64 // log-sd of latency
	rawLatency bool    // whether any judge needs per-request latencies
}

// tick is what one evaluation interval produced, per version.
type tick struct {
	canaryN, baselineN     int
	canaryErr, baselineErr int
	canaryLat, baselineLat []float64
}

// generator draws ticks for one run from its own seeded stream, so every
// judge sees the same traffic and a run's traffic does not depend on which
// worker ran it.
type generator struct {
	rng *rand.Rand
	src rand.Source
	t   traffic
	s   scenario
}

func newGenerator(seed uint64, t traffic, s scenario) *generator {
	src := rand.NewPCG(seed, 0x6b616e61726961)
	return &generator{rng: rand.New(src), src: src, t: t, s: s}
}

func (g *generator) binomial(n, p float64) int {
	return int(distuv.Binomial{N: n, P: p, Src: g.src}.Rand())
}

// merge adds another interval's traffic to k.
func (k *tick) merge(o tick) {
	k.canaryN += o.canaryN
	k.baselineN += o.baselineN
	k.canaryErr += o.canaryErr
	k.baselineErr += o.baselineErr
	k.canaryLat = append(k.canaryLat, o.canaryLat...)
	k.baselineLat = append(k.baselineLat, o.baselineLat...)
}

// next draws one second: each request of the second goes to the canary or
// the baseline with probability `weight` each (independently of failing),
// fails with its version's error rate, and takes a lognormal time.
func (g *generator) next() tick {
	total := g.t.rps
	var k tick
	k.canaryN = g.binomial(total, g.t.weight)
	k.baselineN = g.binomial(total-float64(k.canaryN), g.t.weight/(1-g.t.weight))
	k.canaryErr = g.binomial(float64(k.canaryN), g.s.canaryErr)
	k.baselineErr = g.binomial(float64(k.baselineN), g.s.baselineErr)
	k.canaryLat = g.latencies(k.canaryN, g.s.canaryMed)
	k.baselineLat = g.latencies(k.baselineN, g.s.baselineMed)
	return k
}

func (g *generator) latencies(n int, median float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(g.t.sigma*g.rng.NormFloat64())
	}
	return out
}
