package router

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is one proxied request as analysis sees it.
type Sample struct {
	UnixNano int64         // when the request finished
	Latency  time.Duration // until the response was fully written
	Status   int           // HTTP status; 0 = connection failure to the upstream
}

// Histogram layout: bucket i counts latencies <= histBase << i; the last
// bucket is +Inf. Powers of two make the bucket index one bits.Len64, with no
// search and no lock: 100 µs .. 52 s covers both a cache hit and a timeout.
const (
	histBase    = 100 * time.Microsecond
	histBuckets = 20 // finite buckets; index histBuckets is +Inf
)

// DefaultSampleRing is how many recent samples each version keeps. At 1k
// req/s on the canary that is about 8 s of history; analysis windows read
// with Samples(since) and a bounded ring keeps memory fixed.
const DefaultSampleRing = 8192

// Status classes counted per version; index 0 is connection failures.
const (
	classConnFail = 0
	numClasses    = 6 // connfail, 1xx..5xx
)

// Telemetry holds per release+version counters, latency histograms and
// sample rings. Recording touches only the version's own atomics; the map
// lock is taken only when a table is compiled or when metrics are read.
type Telemetry struct {
	mu       sync.RWMutex
	byKey    map[statsKey]*versionStats
	ringSize int
	loop     LoopCounts
}

// LoopCounts tells how much of the traffic the event loop (loop_*.go)
// serves itself: a low share means requests it hands to the goroutine
// path (bodies, upgrades, streamed answers, refusals), which costs more
// CPU per request.
type LoopCounts struct {
	Served    atomic.Uint64 // requests answered by the loop
	HandedOff atomic.Uint64 // requests handed to the goroutine path
}

// Loop returns the event loop's counters.
func (t *Telemetry) Loop() *LoopCounts { return &t.loop }

type statsKey struct {
	release string
	version Version
}

// versionStats are the counters of one release+version at one revision.
type versionStats struct {
	release  string
	version  Version
	revision string

	classes [numClasses]atomic.Uint64
	hist    [histBuckets + 1]atomic.Uint64
	sumNs   atomic.Int64

	next atomic.Uint64 // ring write cursor
	ring []sampleSlot
}

// sampleSlot is written field by field with atomics and published by seq, so
// readers detect (and skip) a slot being overwritten without any lock.
type sampleSlot struct {
	seq      atomic.Uint64 // write index + 1 once the fields are complete
	unixNano atomic.Int64
	latency  atomic.Int64
	status   atomic.Int64
}

// NewTelemetry returns an empty Telemetry keeping ringSize recent samples per
// version (DefaultSampleRing if ringSize <= 0).
func NewTelemetry(ringSize int) *Telemetry {
	if ringSize <= 0 {
		ringSize = DefaultSampleRing
	}
	return &Telemetry{byKey: map[statsKey]*versionStats{}, ringSize: ringSize}
}

// stats returns the counters for release+version, creating them. When the
// revision changed (a new canary), counting starts afresh: samples of the old
// revision must not leak into the analysis of the new one.
func (t *Telemetry) stats(release string, v Version, revision string) *versionStats {
	k := statsKey{release, v}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.byKey[k]; s != nil && s.revision == revision {
		return s
	}
	s := &versionStats{release: release, version: v, revision: revision, ring: make([]sampleSlot, t.ringSize)}
	t.byKey[k] = s
	return s
}

func (t *Telemetry) get(release string, v Version) *versionStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byKey[statsKey{release, v}]
}

// record counts one finished request. status 0 means the upstream could not
// be reached. Lock-free: a few atomic adds and one ring slot. A nil s (a
// table compiled without telemetry, in tests) records nothing.
func (s *versionStats) record(now time.Time, latency time.Duration, status int) {
	if s == nil {
		return
	}
	s.classes[statusClass(status)].Add(1)
	s.hist[histIndex(latency)].Add(1)
	s.sumNs.Add(int64(latency))

	i := s.next.Add(1) - 1
	slot := &s.ring[i%uint64(len(s.ring))]
	slot.seq.Store(0) // mark in progress
	slot.unixNano.Store(now.UnixNano())
	slot.latency.Store(int64(latency))
	slot.status.Store(int64(status))
	slot.seq.Store(i + 1)
}

func statusClass(status int) int {
	if status < 100 || status > 599 {
		return classConnFail
	}
	return status / 100
}

func histIndex(d time.Duration) int {
	if d <= histBase {
		return 0
	}
	i := bits.Len64(uint64((d - 1) / histBase))
	if i > histBuckets {
		return histBuckets
	}
	return i
}

// Samples returns the recorded samples of release+version that finished at
// or after since, oldest first (at most the ring size). Samples being
// overwritten while read are skipped.
func (t *Telemetry) Samples(release string, v Version, since time.Time) []Sample {
	_, out := t.RevisionSamples(release, v, since)
	return out
}

// RevisionSamples is Samples with the revision they are of, read from the
// same counters: a reader never takes one revision's samples for
// another's (counting starts afresh when a version's revision changes).
func (t *Telemetry) RevisionSamples(release string, v Version, since time.Time) (revision string, samples []Sample) {
	s := t.get(release, v)
	if s == nil {
		return "", nil
	}
	return s.revision, s.samples(since)
}

func (s *versionStats) samples(since time.Time) []Sample {
	end := s.next.Load()
	n := uint64(len(s.ring))
	start := uint64(0)
	if end > n {
		start = end - n
	}
	sinceNs := since.UnixNano()
	out := make([]Sample, 0, 64)
	for i := start; i < end; i++ {
		slot := &s.ring[i%n]
		if slot.seq.Load() != i+1 {
			continue
		}
		smp := Sample{UnixNano: slot.unixNano.Load(), Latency: time.Duration(slot.latency.Load()), Status: int(slot.status.Load())}
		if slot.seq.Load() != i+1 || smp.UnixNano < sinceNs {
			continue
		}
		out = append(out, smp)
	}
	return out
}

// Counts is a snapshot of one version's counters.
type Counts struct {
	Revision string // the revision the counters belong to
	// ByClass[0] is connection failures, ByClass[1..5] are 1xx..5xx.
	ByClass [numClasses]uint64
}

// Total is the number of recorded requests, connection failures included.
func (c Counts) Total() uint64 {
	var n uint64
	for _, v := range c.ByClass {
		n += v
	}
	return n
}

// Counts returns the counters of release+version (zero if never seen).
func (t *Telemetry) Counts(release string, v Version) Counts {
	s := t.get(release, v)
	if s == nil {
		return Counts{}
	}
	c := Counts{Revision: s.revision}
	for i := range s.classes {
		c.ByClass[i] = s.classes[i].Load()
	}
	return c
}

// all returns a stable snapshot of the stats objects, for the collector.
func (t *Telemetry) all() []*versionStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*versionStats, 0, len(t.byKey))
	for _, s := range t.byKey {
		out = append(out, s)
	}
	return out
}
