package controlplane

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// History keeps, per rollout, one point per second for the last 30 minutes:
// the weights in force and each version's requests, errors and latency
// percentiles, computed from the router's timestamped samples. Because the
// points come from timestamps, recording can run late: recordHistory fills
// every complete second since the last call (up to maxHistoryCatchUp), so it
// is exact when called every tick and still right when called only by
// History itself.
const (
	historyLen = 30 * 60 // points kept per rollout, one per second
	// maxHistoryCatchUp bounds how far back one call fills in. Beyond it the
	// router's sample ring may have wrapped, and a gap in the chart is more
	// honest than seconds that look idle.
	maxHistoryCatchUp = 10
	// historyGrace leaves a just-finished second open a little longer: a
	// request finishing at .999 is recorded a moment after.
	historyGrace = 250 * time.Millisecond
)

// telemetrySource is all history needs of the router's telemetry: the data
// plane's, read remotely (routerView), or a router's own (*router.Telemetry)
// in tests.
type telemetrySource interface {
	Samples(release string, v router.Version, since time.Time) []router.Sample
	Counts(release string, v router.Version) router.Counts
}

// historyRing is one rollout's bounded series, oldest first once wrapped.
type historyRing struct {
	pts     []wire.HistoryPoint
	next    int   // write position once len(pts) == historyLen
	lastSec int64 // the last second recorded (Unix seconds); 0 = none yet
}

func (h *historyRing) add(p wire.HistoryPoint) {
	if len(h.pts) < historyLen {
		h.pts = append(h.pts, p)
		return
	}
	h.pts[h.next] = p
	h.next = (h.next + 1) % historyLen
}

// since returns the points at or after ms, oldest first.
func (h *historyRing) since(ms int64) []wire.HistoryPoint {
	// Scan back from the newest: watchers ask for the last point or two
	// four times a second, and should not copy 30 minutes each time.
	n := len(h.pts)
	k := 0
	for k < n && h.pts[(h.next+n-1-k)%n].UnixMS >= ms {
		k++
	}
	out := make([]wire.HistoryPoint, k)
	for i := range k {
		out[i] = h.pts[(h.next+n-k+i)%n]
	}
	return out
}

// historyStore holds every rollout's ring of one control plane.
type historyStore struct {
	mu    sync.Mutex
	rings map[string]*historyRing
}

func (c *ControlPlane) historyStore() *historyStore {
	c.historyOnce.Do(func() { c.history = &historyStore{rings: map[string]*historyRing{}} })
	return c.history
}

// recordHistory records every complete second since the last call, for
// every rollout. Run should call it every tick; History calls it too.
func (c *ControlPlane) recordHistory() {
	// The router stamps samples with the wall clock, so seconds are cut by
	// the wall clock too, not by the injected engine clock.
	last := time.Now().Add(-historyGrace).Unix() - 1
	hs := c.historyStore()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, name := range c.names {
		r := c.rollouts[name]
		ring := hs.rings[name]
		if ring == nil {
			ring = &historyRing{}
			hs.rings[name] = ring
		}
		from := ring.lastSec + 1
		if ring.lastSec == 0 {
			from = last // start with the second that just ended
		}
		if from < last-maxHistoryCatchUp+1 {
			from = last - maxHistoryCatchUp + 1
		}
		if from > last {
			continue
		}
		c.routerMu.Lock()
		t := r.traffic
		c.routerMu.Unlock()
		for _, p := range historyPoints(c.router, name, t, from, last) {
			ring.add(p)
		}
		ring.lastSec = last
	}
}

// historyPoints computes the points of seconds [from, to] of one release.
func historyPoints(src telemetrySource, release string, t engine.Traffic, from, to int64) []wire.HistoryPoint {
	roles := []struct {
		v   router.Version
		rev string
	}{{router.Stable, t.StableRevision}, {router.Canary, t.CanaryRevision}, {router.Baseline, t.BaselineRevision}}
	n := int(to - from + 1)
	pts := make([]wire.HistoryPoint, n)
	for i := range pts {
		pts[i] = wire.HistoryPoint{
			UnixMS:   (from + int64(i)) * 1000,
			Weights:  t.Weights,
			Versions: map[string]wire.VersionPoint{},
		}
	}
	for _, role := range roles {
		if role.rev == "" {
			continue
		}
		secs := make([][]router.Sample, n)
		// Counters of another revision are a previous canary's leftovers:
		// the router starts afresh only when it first serves the new one.
		if src.Counts(release, role.v).Revision == role.rev {
			for _, s := range src.Samples(release, role.v, time.Unix(from, 0)) {
				sec := floorDiv(s.UnixNano, int64(time.Second))
				if sec >= from && sec <= to {
					secs[sec-from] = append(secs[sec-from], s)
				}
			}
		}
		for i := range pts {
			vp := summarize(secs[i])
			vp.Revision = role.rev
			pts[i].Versions[string(role.v)] = vp
		}
	}
	return pts
}

// summarize is one version's second: counts, error rate, p50 and p99.
func summarize(ss []router.Sample) wire.VersionPoint {
	vp := wire.VersionPoint{Requests: len(ss)}
	if len(ss) == 0 {
		return vp
	}
	lat := make([]float64, len(ss))
	for i, s := range ss {
		if s.Status == 0 || s.Status >= 500 {
			vp.Errors++
		}
		lat[i] = float64(s.Latency) / float64(time.Millisecond)
	}
	vp.ErrorRate = float64(vp.Errors) / float64(vp.Requests)
	sort.Float64s(lat)
	p50, p99 := nearestRank(lat, 0.50), nearestRank(lat, 0.99)
	vp.P50Ms, vp.P99Ms = &p50, &p99
	return vp
}

// nearestRank is the q-quantile of sorted values by the nearest-rank rule:
// always an observed latency, never an interpolation between two.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// History returns a rollout's points at or after since, oldest first. It
// records first, so the answer is current even if Run does not record.
func (c *ControlPlane) History(ctx context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	if _, ok := c.rollouts[name]; !ok {
		return nil, wire.ErrNotFound
	}
	c.recordHistory()
	hs := c.historyStore()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	ring := hs.rings[name]
	if ring == nil {
		return nil, nil
	}
	return ring.since(since.UnixMilli()), nil
}
