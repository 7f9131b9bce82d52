package router

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHistogramBuckets(t *testing.T) {
	cases := map[time.Duration]int{0: 0, 100 * time.Microsecond: 0, 101 * time.Microsecond: 1,
		200 * time.Microsecond: 1, 201 * time.Microsecond: 2, time.Hour: histBuckets}
	for d, want := range cases {
		if got := histIndex(d); got != want {
			t.Errorf("histIndex(%v) = %d, want %d", d, got, want)
		}
		if want < histBuckets && d > histBase<<want {
			t.Errorf("%v above its bucket's bound %v", d, histBase<<want)
		}
	}
}

// The ring keeps the most recent samples, filters by time, and stays
// consistent while many goroutines record at once.
func TestSamplesRingAndConcurrentRecording(t *testing.T) {
	tel := NewTelemetry(64)
	s := tel.stats("shop", Canary, "v2")
	base := time.Unix(1000, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				s.record(base.Add(time.Duration(i)*time.Second), time.Millisecond, 200+g)
			}
		}(g)
	}
	wg.Wait()
	if c := tel.Counts("shop", Canary); c.ByClass[2] != 400 {
		t.Fatalf("counts %+v", c)
	}
	all := tel.Samples("shop", Canary, time.Time{})
	// A writer lapped by another while filling a slot (4 writers here) loses
	// that one sample rather than leaving it torn: at most one per writer.
	if len(all) > 64 || len(all) < 64-4 {
		t.Fatalf("%d samples in a ring of 64", len(all))
	}
	for _, smp := range all {
		if smp.Latency != time.Millisecond || smp.Status < 200 || smp.Status > 203 {
			t.Fatalf("torn sample %+v", smp)
		}
	}
	s.record(base.Add(time.Hour), 2*time.Millisecond, 0)
	recent := tel.Samples("shop", Canary, base.Add(30*time.Minute))
	if len(recent) != 1 || recent[0].Status != 0 || recent[0].Latency != 2*time.Millisecond {
		t.Errorf("since filter: %+v", recent)
	}
	if tel.Samples("shop", Baseline, time.Time{}) != nil {
		t.Error("samples for a version never seen")
	}
}

func TestPrometheusCollector(t *testing.T) {
	tel := NewTelemetry(0)
	s := tel.stats("shop", Canary, "v2")
	now := time.Now()
	s.record(now, 150*time.Microsecond, 200)
	s.record(now, 3*time.Millisecond, 503)
	s.record(now, time.Second, 0)
	tel.Loop().Served.Add(7)
	tel.Loop().HandedOff.Add(2)
	reg := prometheus.NewRegistry()
	reg.MustRegister(tel)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var hcount uint64
	var hsum float64
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "kanaria_router_event_loop_requests_total" {
				got["loop "+labels["outcome"]] = m.Counter.GetValue()
				continue
			}
			if labels["release"] != "shop" || labels["version"] != "canary" || labels["revision"] != "v2" {
				t.Errorf("labels %v", labels)
			}
			switch mf.GetName() {
			case "kanaria_router_requests_total":
				got[labels["code_class"]] = m.Counter.GetValue()
			case "kanaria_router_request_duration_seconds":
				hcount, hsum = m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
			}
		}
	}
	if got["loop served"] != 7 || got["loop handed_off"] != 2 {
		t.Errorf("event loop counters %v", got)
	}
	if got["2xx"] != 1 || got["5xx"] != 1 || got["connfail"] != 1 || got["4xx"] != 0 {
		t.Errorf("requests_total %v", got)
	}
	if hcount != 3 || hsum < 1.003 || hsum > 1.004 {
		t.Errorf("histogram count %d sum %v", hcount, hsum)
	}
}
