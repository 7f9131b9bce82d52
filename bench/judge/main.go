// Command judge is kanaria's judge-quality benchmark: a seeded simulator that
// feeds the same synthetic canary traffic to kanaria's judge and to three
// reference judges (a fixed-horizon two-proportion z-test, a Flagger-style
// threshold rule, a Kayenta-style Mann-Whitney on per-minute aggregates) and
// reports false alarms on identical versions, power against a doubled error
// rate and a +20 % median latency, and how many canary requests each needs
// to fail a bad canary.
//
//	go run ./bench/judge [-runs 1000] [-seed 1]
//
// The last line is the summary. Its error-rate figures are those of the
// product's judge looking as often as the product does by default (the
// router's metrics: every second), against the fixed-horizon test looking
// as often; its latency power is that of the whole judge looking every tick
// (Mann-Whitney on 8,000 samples every second would make the run hours):
//
//	kanaria judge: looking every 1 s (product default), A/A false alarms X.X%, power 2x errors X.X%, requests vs fixed horizon X.XXx, power +20% latency X.X% (looking every 10 s)
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func main() {
	runs := flag.Int("runs", 1000, "simulated canaries per scenario")
	seed := flag.Uint64("seed", 1, "random seed")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "parallel workers")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	tr := traffic{rps: 1000, weight: 0.05, tickSec: 10, ticks: 60, sigma: 0.5}
	const alpha, power = 0.01, 0.95
	const pBase = 0.01
	fixedN := fixedHorizonN(pBase, 2*pBase, alpha, power)

	scenarios := []scenario{
		{name: "A/A", canaryErr: pBase, baselineErr: pBase, canaryMed: 100, baselineMed: 100},
		{name: "2x errors", canaryErr: 2 * pBase, baselineErr: pBase, canaryMed: 100, baselineMed: 100},
		{name: "+20% latency", canaryErr: pBase, baselineErr: pBase, canaryMed: 120, baselineMed: 100},
	}
	// The stable's p99 at median 100 ms, log-sd 0.5 is 100·e^(0.5·2.326) ≈ 320 ms;
	// an operator sets thresholds with some headroom above normal.
	lookSec := int(v1alpha1.DefaultRouterInterval / time.Second)
	const errorsRow, fullRow, fixedRow = 0, 1, 2
	judges := []judgeSpec{
		{name: fmt.Sprintf("kanaria errors (mSPRT), looking every %d s", lookSec), productLook: true, make: newKanariaErrors},
		{name: fmt.Sprintf("kanaria (mSPRT errors + Mann-Whitney/HL latency), every %.0f s", tr.tickSec), latency: true, make: newKanaria},
		{name: fmt.Sprintf("fixed-horizon z-test (n=%d/version), every %d s", fixedN, lookSec), productLook: true, make: newFixedZ(fixedN, alpha)},
		{name: "Flagger-style (err>1.5% or p99>400ms, 3 in a row)", latency: true, make: newFlagger(0.015, 400, 3)},
		{name: "Kayenta-style (MW on per-minute points, 98%)", latency: true, make: newKayenta(int(60 / tr.tickSec))},
	}

	fmt.Printf("judge bench: %d runs per scenario, seed %d; %.0f req/s, canary and baseline %.0f%% each, ticks of %.0f s, horizon %d min; the product looks every %d s\n",
		*runs, *seed, tr.rps, 100*tr.weight, tr.tickSec, int(float64(tr.ticks)*tr.tickSec/60), lookSec)
	fmt.Printf("baseline error rate %.0f%%, latency lognormal median 100 ms, log-sd %.1f; α = %.0f%%\n\n", 100*pBase, tr.sigma, 100*alpha)

	start := time.Now()
	res := make([][]outcome, len(scenarios))
	for si, s := range scenarios {
		res[si] = runScenario(uint64(si), *seed, *runs, *workers, tr, s, judges)
	}

	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "judge\tA/A false alarms\tpower 2x errors\tcanary requests to fail 2x (median)\tpower +20% latency\t")
	for ji, j := range judges {
		aa, p2, pl := res[0][ji], res[1][ji], res[2][ji]
		lat := "n/a (no latency)"
		if j.latency {
			lat = pct(pl.rate())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t\n", j.name, pct(aa.rate()), pct(p2.rate()), reqs(p2.medianRequests()), lat)
	}
	w.Flush()
	se := math.Sqrt(alpha * (1 - alpha) / float64(*runs))
	fmt.Printf("\nMonte-Carlo standard error: %.2f%% at a 1%% rate, %.2f%% at 95%%; %s elapsed on %d workers\n",
		100*se, 100*math.Sqrt(0.05*0.95/float64(*runs)), time.Since(start).Round(time.Second), *workers)

	k, fz := res[1][errorsRow].medianRequests(), res[1][fixedRow].medianRequests()
	fmt.Printf("fixed-horizon test plans %d requests per version and, looking every %d s, decides at %s (median)\n\n", fixedN, lookSec, reqs(fz))
	fmt.Printf("kanaria judge: looking every %d s (product default), A/A false alarms %.1f%%, power 2x errors %.1f%%, requests vs fixed horizon %.2fx, power +20%% latency %.1f%% (looking every %.0f s)\n",
		lookSec, 100*res[0][errorsRow].rate(), 100*res[1][errorsRow].rate(), k/fz, 100*res[2][fullRow].rate(), tr.tickSec)
}

// outcome aggregates one judge's results in one scenario.
type outcome struct {
	runs     int
	failedAt []float64 // canary requests at failure, +Inf when it never failed
}

func (o outcome) rate() float64 {
	n := 0
	for _, r := range o.failedAt {
		if !math.IsInf(r, 1) {
			n++
		}
	}
	return float64(n) / float64(o.runs)
}

// medianRequests counts runs that never failed as +Inf, so it is finite only
// when more than half the runs failed.
func (o outcome) medianRequests() float64 {
	s := append([]float64(nil), o.failedAt...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.Inf(1)
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func reqs(f float64) string {
	if math.IsInf(f, 1) {
		return "never (median)"
	}
	return fmt.Sprintf("%.0f", f)
}

// runScenario simulates `runs` canaries, each judged by every judge on the
// same ticks. Runs are spread over workers; each run's traffic comes from a
// seed derived from (seed, scenario, run), so results do not depend on the
// number of workers.
func runScenario(si, seed uint64, runs, workers int, tr traffic, s scenario, judges []judgeSpec) []outcome {
	failedAt := make([][]float64, len(judges))
	for j := range failedAt {
		failedAt[j] = make([]float64, runs)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				runOne(seed*1_000_003+si*100_003+uint64(r), tr, s, judges, r, failedAt)
			}
		}()
	}
	for r := 0; r < runs; r++ {
		next <- r
	}
	close(next)
	wg.Wait()
	out := make([]outcome, len(judges))
	for j := range judges {
		out[j] = outcome{runs: runs, failedAt: failedAt[j]}
	}
	return out
}

// runOne simulates one canary. Traffic is drawn one second at a time; the
// seconds of a tick are merged for judges that look every tick, and those
// since the last look for judges that look at the product's interval.
func runOne(seed uint64, tr traffic, s scenario, judges []judgeSpec, r int, failedAt [][]float64) {
	g := newGenerator(seed, tr, s)
	live := make([]judgeSim, len(judges))
	for j, spec := range judges {
		live[j] = spec.make(seed)
		failedAt[j][r] = math.Inf(1)
	}
	perTick := int(tr.tickSec)
	lookSec := max(1, int(v1alpha1.DefaultRouterInterval/time.Second))
	var canaryRequests float64
	feed := func(j int, k tick, look int) {
		if live[j] != nil && live[j].observe(k, look) {
			failedAt[j][r] = canaryRequests
			live[j] = nil
		}
	}
	var sinceLook tick
	for look := 1; look <= tr.ticks; look++ {
		var agg tick
		for sec := 0; sec < perTick; sec++ {
			k := g.next()
			canaryRequests += float64(k.canaryN)
			agg.merge(k)
			sinceLook.merge(k)
			second := (look-1)*perTick + sec + 1
			if second%lookSec != 0 {
				continue
			}
			for j, spec := range judges {
				if spec.productLook {
					feed(j, sinceLook, second/lookSec)
				}
			}
			sinceLook = tick{}
		}
		alive := 0
		for j, spec := range judges {
			if !spec.productLook {
				feed(j, agg, look)
			}
			if live[j] != nil {
				alive++
			}
		}
		if alive == 0 {
			return
		}
	}
}
