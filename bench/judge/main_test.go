package main

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Fleiss' per-group size for a one-sided test at α = 1 % with 95 % power,
// 1 % → 2 %: (2.3263 + 1.6449)² · (0.0099 + 0.0196) / 0.01² = 4652.3 → 4653.
func TestFixedHorizonN(t *testing.T) {
	if n := fixedHorizonN(0.01, 0.02, 0.01, 0.95); n != 4653 {
		t.Errorf("n = %d, want 4653", n)
	}
	// Two-sided 5 % with 80 % power (z = 1.96 + 0.8416), 10 % → 20 %:
	// 7.849 · 0.25 / 0.01 = 196.2 → 197 (α passed one-sided as 0.025).
	if n := fixedHorizonN(0.10, 0.20, 0.025, 0.80); n != 197 {
		t.Errorf("n = %d, want 197", n)
	}
}

// A run's traffic comes from its own seed, so the outcome does not depend on
// how many workers share the runs.
func TestScenarioIsDeterministicAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	tr := traffic{rps: 1000, weight: 0.05, tickSec: 10, ticks: 12, sigma: 0.5}
	s := scenario{name: "2x", canaryErr: 0.02, baselineErr: 0.01, canaryMed: 100, baselineMed: 100}
	judges := []judgeSpec{
		{name: "kanaria", latency: true, make: newKanaria},
		{name: "fixed", make: newFixedZ(4653, 0.01)},
		{name: "flagger", latency: true, make: newFlagger(0.015, 400, 3)},
	}
	a := runScenario(0, 7, 16, 1, tr, s, judges)
	b := runScenario(0, 7, 16, 2, tr, s, judges)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("1 worker %v, 2 workers %v", a, b)
	}
	if a[0].rate() == 0 || math.IsInf(a[0].medianRequests(), 1) {
		t.Errorf("kanaria never failed a 2x canary in 2 minutes: %+v", a[0])
	}
}

func TestReservoirKeepsAUniformSample(t *testing.T) {
	r := reservoir{rng: newGenerator(1, traffic{}, scenario{}).rng}
	vs := make([]float64, 40_000)
	for i := range vs {
		vs[i] = float64(i)
	}
	r.add(vs)
	var mean float64
	for _, v := range r.s {
		mean += v / float64(len(r.s))
	}
	// Uniform on 0..39,999: mean 20,000, sd of the mean ≈ 11,547/√4000 ≈ 183.
	if len(r.s) != reservoirSize || math.Abs(mean-20_000) > 4*183 {
		t.Errorf("len %d mean %.0f", len(r.s), mean)
	}
}

// lookCounter records the looks it is given and never fails.
type lookCounter struct {
	looks    *[]int
	requests *int
}

func (c lookCounter) observe(k tick, look int) bool {
	*c.looks = append(*c.looks, look)
	*c.requests += k.canaryN
	return false
}

// The summary's error figures come from judges fed at the product's default
// look interval: they must see one look per DefaultRouterInterval with all
// the traffic since the last, the others one look per tick.
func TestProductLookInterval(t *testing.T) {
	tr := traffic{rps: 100, weight: 0.1, tickSec: 10, ticks: 3, sigma: 0.5}
	var productLooks, tickLooks []int
	var productN, tickN int
	judges := []judgeSpec{
		{name: "product", productLook: true, make: func(uint64) judgeSim { return lookCounter{&productLooks, &productN} }},
		{name: "tick", make: func(uint64) judgeSim { return lookCounter{&tickLooks, &tickN} }},
	}
	failedAt := [][]float64{{0}, {0}}
	runOne(1, tr, scenario{canaryErr: 0.01, baselineErr: 0.01, canaryMed: 100, baselineMed: 100}, judges, 0, failedAt)
	lookSec := int(v1alpha1.DefaultRouterInterval / time.Second)
	if want := 30 / lookSec; len(productLooks) != want || productLooks[want-1] != want {
		t.Errorf("product looks %v, want 1..%d", productLooks, want)
	}
	if !reflect.DeepEqual(tickLooks, []int{1, 2, 3}) {
		t.Errorf("tick looks %v, want [1 2 3]", tickLooks)
	}
	if productN != tickN || productN == 0 {
		t.Errorf("product judge saw %d canary requests, tick judge %d", productN, tickN)
	}
}
