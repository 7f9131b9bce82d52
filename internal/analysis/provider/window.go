package provider

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// ReservoirSize is how many latencies a Window keeps per version: a
// uniform sample of everything seen (Vitter's algorithm R), so memory is
// bounded however long the analysis runs. 4,000 per version is what the
// judge bench measured its latency power with.
const ReservoirSize = 4000

// VersionData is one version's accumulated traffic since an analysis began.
type VersionData struct {
	// Revision the data belongs to.
	Revision string
	// ByStatus counts requests per HTTP status; 0 = connection failure.
	ByStatus map[int]int64
	// Total is every request seen.
	Total int64
	// Latencies is a uniform reservoir of latencies in milliseconds.
	Latencies []float64
}

// Errors counts the requests whose status matches patterns.
func (d VersionData) Errors(isError func(status int) bool) int64 {
	var n int64
	for s, c := range d.ByStatus {
		if isError(s) {
			n += c
		}
	}
	return n
}

// Source is where the router provider reads accumulated data.
type Source interface {
	// Snapshot returns a copy of one version's data ("canary",
	// "baseline", "stable"); ok is false when nothing was recorded.
	Snapshot(version string) (VersionData, bool)
}

// DiffSource is a Source that also knows the comparison of mirrored
// answers (shadow traffic). The control plane's analyses are one; a
// Source without it cannot feed the mirrorDifference measure, and says so.
type DiffSource interface {
	Source
	// MirrorDifference is the difference rate above noise of the canary's
	// answers and how many requests were compared; ok is false when the
	// rollout mirrored nothing.
	MirrorDifference() (rate float64, samples int64, ok bool)
}

// Window accumulates the router's samples of one analysis, per version.
// The control plane adds what it read each tick; the router's own ring
// holds only seconds of history at high rates, so the analysis keeps
// counts for the whole window and a bounded latency reservoir.
type Window struct {
	mu       sync.Mutex
	versions map[string]*versionAcc
	seed     uint64
}

type versionAcc struct {
	data VersionData
	rng  *rand.Rand
}

// NewWindow returns an empty window; seed makes the reservoir's choices
// reproducible.
func NewWindow(seed uint64) *Window {
	return &Window{versions: map[string]*versionAcc{}, seed: seed}
}

// Add records one request of version (revision rev): its status (0 =
// connection failure) and latency.
func (w *Window) Add(version, rev string, status int, latency time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.versions[version]
	if a == nil || a.data.Revision != rev {
		a = &versionAcc{data: VersionData{Revision: rev, ByStatus: map[int]int64{}}, rng: rand.New(rand.NewPCG(w.seed, uint64(len(version))))}
		w.versions[version] = a
	}
	a.data.ByStatus[status]++
	a.data.Total++
	ms := float64(latency) / float64(time.Millisecond)
	if len(a.data.Latencies) < ReservoirSize {
		a.data.Latencies = append(a.data.Latencies, ms)
		return
	}
	if j := a.rng.Int64N(a.data.Total); j < ReservoirSize {
		a.data.Latencies[j] = ms
	}
}

// Snapshot returns a copy of one version's data.
func (w *Window) Snapshot(version string) (VersionData, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.versions[version]
	if a == nil {
		return VersionData{}, false
	}
	d := a.data
	d.ByStatus = make(map[int]int64, len(a.data.ByStatus))
	for k, v := range a.data.ByStatus {
		d.ByStatus[k] = v
	}
	d.Latencies = append([]float64(nil), a.data.Latencies...)
	return d, true
}

// Restore puts one version's data back, as a Snapshot of an earlier
// window returned it (after a restart of the control plane), replacing
// whatever the window held for that version. The reservoir carries on with
// the same counts: Algorithm R needs only the total seen and fresh random
// numbers, so its sample stays uniform over everything, before the restart
// and after.
func (w *Window) Restore(version string, d VersionData) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := &versionAcc{data: d, rng: rand.New(rand.NewPCG(w.seed, uint64(d.Total)))}
	a.data.ByStatus = make(map[int]int64, len(d.ByStatus))
	for k, v := range d.ByStatus {
		a.data.ByStatus[k] = v
	}
	a.data.Latencies = append([]float64(nil), d.Latencies[:min(len(d.Latencies), ReservoirSize)]...)
	w.versions[version] = a
}

// Versions lists the versions the window has data for.
func (w *Window) Versions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.versions))
	for v := range w.versions {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
