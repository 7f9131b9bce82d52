// Package demoapp is the tiny application kanaria serves in its own demo and
// end-to-end tests: each revision says who it is, and can be made slow or
// failing on purpose so a release has something real to judge.
package demoapp

import (
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// RevisionHeader is set on every response so a client can tell which revision
// answered even when no router sits in front.
const RevisionHeader = "X-Demo-Revision"

// upstreamVersionHeader is what kanaria's router stamps on the upstream
// request; the page echoes it so a demo user sees the routing decision.
const upstreamVersionHeader = "X-Kanaria-Version"

// Options configure one demo-app revision.
type Options struct {
	// Revision is the name the app reports, e.g. "v2".
	Revision string
	// ErrorRate is the probability (0..1) that a request to / answers 500.
	ErrorRate float64
	// Latency is added to every request to / and /api/info.
	Latency time.Duration
	// LatencyJitter adds a further uniform delay in [0, LatencyJitter).
	LatencyJitter time.Duration
	// Seed makes the error and latency draws reproducible; 0 picks a random
	// seed per process so replicas of one revision do not fail in lockstep.
	Seed int64
}

// Info is the JSON body of /api/info.
type Info struct {
	Revision  string  `json:"revision"`
	ErrorRate float64 `json:"errorRate"`
	// Latency is the configured base latency as a Go duration string.
	Latency string `json:"latency"`
}

// app holds one revision's configuration and its random source.
type app struct {
	o Options
	// mu guards rng: *rand.Rand is not safe for concurrent use, and one
	// seeded source (rather than the global one) keeps a seeded run
	// reproducible.
	mu  sync.Mutex
	rng *rand.Rand
}

// Handler returns the demo application for o.
func Handler(o Options) http.Handler {
	seed := uint64(o.Seed)
	if o.Seed == 0 {
		seed = rand.Uint64()
	}
	a := &app{o: o, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /api/info", a.info)
	return mux
}

// draw returns whether this request fails and how long it waits, under one
// lock so the two draws come from the same reproducible sequence.
func (a *app) draw() (fail bool, delay time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fail = a.o.ErrorRate > 0 && a.rng.Float64() < a.o.ErrorRate
	delay = a.o.Latency
	if a.o.LatencyJitter > 0 {
		delay += time.Duration(a.rng.Int64N(int64(a.o.LatencyJitter)))
	}
	return fail, delay
}

// wait sleeps for d unless the client goes away first, so a cancelled
// request does not hold a goroutine for the whole configured latency.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	fail, delay := a.draw()
	if !wait(r, delay) {
		return
	}
	w.Header().Set(RevisionHeader, a.o.Revision)
	w.Header().Set("Cache-Control", "no-store")
	if fail {
		http.Error(w, "injected error from "+a.o.Revision, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rev := html.EscapeString(a.o.Revision)
	routed := ""
	if v := r.Header.Get(upstreamVersionHeader); v != "" {
		routed = " <small>(routed by kanaria as " + html.EscapeString(v) + ")</small>"
	}
	fmt.Fprintf(w, "<!doctype html><title>kanaria demo %s</title><h1>hello from %s</h1>%s\n", rev, rev, routed)
}

// healthz always answers 200 at once: readiness probes must see the process
// is up even when the revision is deliberately slow or failing, because the
// release's analysis, not the probe, is meant to catch a bad revision.
func (a *app) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(RevisionHeader, a.o.Revision)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (a *app) info(w http.ResponseWriter, r *http.Request) {
	_, delay := a.draw()
	if !wait(r, delay) {
		return
	}
	w.Header().Set(RevisionHeader, a.o.Revision)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Info{Revision: a.o.Revision, ErrorRate: a.o.ErrorRate, Latency: a.o.Latency.String()})
}
