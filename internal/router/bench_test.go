package router

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// BenchmarkDecide is the routing decision alone, the part a faster HTTP
// front end will reuse. It must not allocate.
func BenchmarkDecide(b *testing.B) {
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight, cfg.Releases[0].BaselineWeight = percent(10), percent(10)
	cfg.Routes = []Route{{Host: "shop.example.com", PathPrefix: "/api", Release: "shop"}, {Release: "shop"}}
	tb := mustCompile(b, cfg)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var d decision
	for i := 0; i < b.N; i++ {
		in := inputs{Host: "shop.example.com", Path: "/api/cart", StickyCookie: keys[i&1023]}
		tb.decide(&in, &d)
	}
}

// TestDecideDoesNotAllocate keeps the zero-allocation promise in the
// ordinary test run, not only when someone reads benchmark output. The
// first visit (a fresh sticky id from crypto/rand) is allowed one
// allocation: it is 0 normally, but crypto/rand's buffer escapes under the
// race detector, and that request allocates its Set-Cookie anyway.
func TestDecideDoesNotAllocate(t *testing.T) {
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight = percent(10)
	cfg.Key.Cookie = "uid"
	tb := mustCompile(t, cfg)
	var d decision
	for name, in := range map[string]inputs{
		"sticky":   {Host: "a", Path: "/", StickyCookie: "abc"},
		"header":   {Host: "a", Path: "/", KeyHeader: "u1"},
		"override": {Host: "a", Path: "/", KeyHeader: "u1", OverrideHeader: "v2"},
		"new id":   {Host: "a", Path: "/"},
	} {
		limit := 0.0
		if name == "new id" {
			limit = 1
		}
		if n := testing.AllocsPerRun(100, func() { tb.decide(&in, &d) }); n > limit {
			t.Errorf("%s: %v allocs per decision", name, n)
		}
	}
}

// BenchmarkTelemetryRecord records from all cores at once, as the proxy
// does; it shows the cost of the shared atomics.
func BenchmarkTelemetryRecord(b *testing.B) {
	tel := NewTelemetry(0)
	s := tel.stats("shop", Canary, "v2")
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			s.record(now, time.Duration(i)*time.Microsecond, 200)
		}
	})
}

// BenchmarkProxy is a whole request through the router over loopback, once
// per front end, for information (bench/router.sh compares throughput with
// nginx properly). Allocations include the net/http client and upstreams.
func BenchmarkProxy(b *testing.B) {
	for _, fe := range frontEnds {
		b.Run(fe.name, func(b *testing.B) { benchProxy(b, fe) })
	}
}

func benchProxy(b *testing.B, fe frontEnd) {
	st, ca := upstream(b, "v1"), upstream(b, "v2")
	_, base := serveRouter(b, fe, twoVersions(st.URL, ca.URL, 10))
	c := client()
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("X-User", "u")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkSetWeights is the weight change itself: a new table built from
// the old one and swapped in with one atomic store. Requests whose head is
// read after the store are decided with the new weights, so this is the
// router's own share of a change's time to effect (bench/weight-change.sh
// measures the admin round trip around it under load).
func BenchmarkSetWeights(b *testing.B) {
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight = percent(10)
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := r.SetWeights(cfg.Releases[0].Name, v1alpha1.Weights{CanaryPPM: v1alpha1.Weight(i%2+1) * 100_000}); err != nil {
			b.Fatal(err)
		}
	}
}
