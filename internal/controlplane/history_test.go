package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/dataplane"
	"github.com/kanaria-dev/kanaria/internal/demoapp"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// get sends n requests through h as new users and returns how many answered.
func get(t *testing.T, url string, n int) int {
	t.Helper()
	ok := 0
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ok++
	}
	return ok
}

// waitNextSecond sleeps until the current second (and the grace after it)
// is over, so the seconds with the test's requests are complete.
func waitNextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + historyGrace + 20*time.Millisecond).Sub(now))
}

func TestHistoryPointsFromRealRouter(t *testing.T) {
	good := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v1", Latency: 3 * time.Millisecond}))
	defer good.Close()
	bad := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v2", ErrorRate: 1}))
	defer bad.Close()
	rt, err := router.New(router.Config{
		Key:    router.KeyConfig{Salt: "s"},
		Routes: []router.Route{{Release: "web"}},
		Releases: []router.Release{{
			Name:   "web",
			Stable: router.Backend{Revision: "v1", Endpoints: []string{good.URL}},
			Canary: &router.Backend{Revision: "v2", Endpoints: []string{bad.URL}}, CanaryWeight: 500_000, // 50 %
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	front := httptest.NewServer(rt)
	defer front.Close()

	from := time.Now().Unix()
	sent := get(t, front.URL+"/", 60)
	to := time.Now().Unix()
	waitNextSecond()

	tr := engine.Traffic{StableRevision: "v1", CanaryRevision: "v2", Weights: v1alpha1.Weights{CanaryPPM: 500000}}
	pts := historyPoints(rt.Telemetry(), "web", tr, from, to)
	if len(pts) != int(to-from+1) {
		t.Fatalf("%d points for %d seconds", len(pts), to-from+1)
	}
	total, canary := 0, 0
	for i, p := range pts {
		if p.UnixMS != (from+int64(i))*1000 || p.Weights.CanaryPPM != 500000 {
			t.Fatalf("point %d: %+v", i, p)
		}
		if _, ok := p.Versions["baseline"]; ok {
			t.Fatal("a release without baseline has a baseline series")
		}
		st, cn := p.Versions["stable"], p.Versions["canary"]
		if st.Revision != "v1" || cn.Revision != "v2" {
			t.Fatalf("revisions %q %q", st.Revision, cn.Revision)
		}
		total += st.Requests + cn.Requests
		canary += cn.Requests
		// The canary always fails, the stable never does.
		if st.Errors != 0 || cn.Errors != cn.Requests {
			t.Fatalf("errors: stable %d/%d, canary %d/%d", st.Errors, st.Requests, cn.Errors, cn.Requests)
		}
		if cn.Requests > 0 && cn.ErrorRate != 1 {
			t.Fatalf("canary error rate %v", cn.ErrorRate)
		}
		if st.Requests > 0 && (st.P50Ms == nil || *st.P50Ms < 3 || *st.P99Ms < *st.P50Ms) {
			t.Fatalf("stable latency p50 %v p99 %v, want >= 3 ms and p99 >= p50", st.P50Ms, st.P99Ms)
		}
		if st.Requests == 0 && st.P50Ms != nil {
			t.Fatal("a second without requests has a latency")
		}
	}
	if total != sent {
		t.Fatalf("history counts %d requests, %d were sent", total, sent)
	}
	if canary == 0 || canary == sent {
		t.Fatalf("canary got %d of %d at 50%%", canary, sent)
	}

	// Counters of another revision are not this canary's.
	tr.CanaryRevision = "v3"
	for _, p := range historyPoints(rt.Telemetry(), "web", tr, from, to) {
		if p.Versions["canary"].Requests != 0 {
			t.Fatal("v2's samples were counted for v3")
		}
	}
}

func TestHistoryRingWrapsAndFilters(t *testing.T) {
	var h historyRing
	for i := range historyLen + 5 {
		h.add(wire.HistoryPoint{UnixMS: int64(i) * 1000})
	}
	all := h.since(0)
	if len(all) != historyLen || all[0].UnixMS != 5000 || all[len(all)-1].UnixMS != int64(historyLen+4)*1000 {
		t.Fatalf("wrapped ring: %d points from %d to %d", len(all), all[0].UnixMS, all[len(all)-1].UnixMS)
	}
	for i := 1; i < len(all); i++ {
		if all[i].UnixMS <= all[i-1].UnixMS {
			t.Fatal("points out of order")
		}
	}
	last := h.since(int64(historyLen+3) * 1000)
	if len(last) != 2 || last[0].UnixMS != int64(historyLen+3)*1000 {
		t.Fatalf("since: %+v", last)
	}
	if got := h.since(1 << 50); len(got) != 0 {
		t.Fatalf("since the future: %d points", len(got))
	}
}

func TestNearestRank(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := nearestRank(v, 0.5); p != 5 {
		t.Fatalf("p50 = %v", p)
	}
	if p := nearestRank(v, 0.99); p != 10 {
		t.Fatalf("p99 = %v", p)
	}
	if p := nearestRank([]float64{7}, 0.99); p != 7 {
		t.Fatalf("p99 of one = %v", p)
	}
}

// startDataPlane runs a real data plane (router, platforms) in-process on
// loopback and connects to it, as `kanaria up` does across processes.
func startDataPlane(t *testing.T) *dataplane.Client {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- dataplane.Run(ctx, dataplane.Options{StateDir: dir, Listen: "127.0.0.1:0", Ready: func(dataplane.Info) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("data plane: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("data plane not ready within 15s")
	}
	c, err := dataplane.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); <-done })
	return c
}

// TestHistoryOfControlPlane runs a release on a real control plane (static
// platform, demo apps on loopback) and reads History without any hook in
// Run: History itself records.
func TestHistoryOfControlPlane(t *testing.T) {
	v1 := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v1"}))
	defer v1.Close()
	v2 := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v2"}))
	defer v2.Close()
	rs, err := spec.Parse("kanaria.yaml", fmt.Appendf(nil, `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {static: {revisions: {v1: [%q], v2: [%q]}}}
  strategy: {canary: {steps: [{setWeight: 30}, {pause: {}}]}}
`, v1.URL, v2.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dp := startDataPlane(t)
	c, err := New(ctx, Options{StateDir: t.TempDir(), DataPlane: dp, Rollouts: rs, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if _, err := c.History(ctx, "nope", time.Time{}); !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("unknown rollout: %v", err)
	}
	if _, err := c.History(ctx, "web", time.Time{}); err != nil { // starts the series
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		v, _ := c.Get(ctx, "web")
		if v.Status.Weights.CanaryPPM == 300000 {
			break
		}
		if i > 200 {
			t.Fatalf("canary never reached 30%%: %+v", v.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	get(t, dp.RouterURL()+"/", 40)
	waitNextSecond()

	pts, err := c.History(ctx, "web", start.Truncate(time.Second))
	if err != nil || len(pts) == 0 {
		t.Fatalf("history: %d points, %v", len(pts), err)
	}
	requests, canary := 0, 0
	for _, p := range pts {
		requests += p.Versions["stable"].Requests + p.Versions["canary"].Requests
		canary += p.Versions["canary"].Requests
	}
	lastPt := pts[len(pts)-1]
	if lastPt.Weights.CanaryPPM != 300000 || lastPt.Versions["canary"].Revision != "v2" {
		t.Fatalf("last point: %+v", lastPt)
	}
	if requests != 40 || canary == 0 {
		t.Fatalf("history counts %d requests (%d canary), 40 were sent", requests, canary)
	}
}
