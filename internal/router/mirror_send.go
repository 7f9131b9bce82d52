package router

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// mirrorer is one release's mirroring machinery: a bounded queue of
// captures, a fixed set of workers that send them to the canary and the
// baseline, and the comparison. It outlives table swaps (a change of the
// routes or the comparison keeps it; a change of concurrency or timeout
// builds a new one that keeps the comparison), and its report stays
// readable after the release stops mirroring.
type mirrorer struct {
	release string
	opts    mirrorOpts
	jobs    chan *capture
	quit    chan struct{}
	pools   mirrorPools

	mu   sync.Mutex
	coll *shadow.Collector

	sampled, dropped, skippedBody, compared, shadowErrors, inFlight atomic.Int64
}

func newMirrorer(release string, o mirrorOpts) *mirrorer {
	m := &mirrorer{release: release, opts: o, jobs: make(chan *capture, o.concurrency*mirrorQueuePerWorker), quit: make(chan struct{})}
	for range o.concurrency {
		go m.work()
	}
	return m
}

// stop ends the workers without waiting for them (so a table swap never
// waits for a slow canary: a copy in flight ends by its timeout); what is
// still queued is dropped. The report stays.
func (m *mirrorer) stop() {
	select {
	case <-m.quit:
		return
	default:
	}
	close(m.quit)
	for {
		select {
		case <-m.jobs:
			m.dropped.Add(1)
		default:
			m.pools.closeIdle()
			return
		}
	}
}

func (m *mirrorer) stopped() bool {
	select {
	case <-m.quit:
		return true
	default:
		return false
	}
}

func (m *mirrorer) work() {
	idlePriority()
	for {
		select {
		case <-m.quit:
			return
		case c := <-m.jobs:
			m.inFlight.Add(1)
			m.compare(c)
			m.inFlight.Add(-1)
		}
	}
}

// compare sends c to the canary and the baseline at once and adds the
// answers to the comparison.
func (m *mirrorer) compare(c *capture) {
	if c.materialize() != nil {
		m.dropped.Add(1) // cannot happen: the front end parsed the same bytes
		return
	}
	deadline := time.Now().Add(m.opts.timeout)
	var sec *shadow.Response
	var wg sync.WaitGroup
	if c.secondary != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec = m.send(deadline, c, c.secondary)
		}()
	}
	cand := m.send(deadline, c, c.candidate)
	wg.Wait()
	m.mu.Lock()
	coll := m.coll
	m.mu.Unlock()
	if coll != nil && coll.Revisions().Candidate == c.candidate.revision {
		coll.Add(&c.req, &c.primary, cand, sec)
		m.compared.Add(1)
	}
}

// send makes one mirrored request to b and reads its answer, at most
// maxBody bytes of body, within the mirror's timeout.
func (m *mirrorer) send(deadline time.Time, c *capture, b *backend) *shadow.Response {
	ep := b.pick()
	if ep == nil {
		ep = b.any()
	}
	r := m.exchange(c, ep, b, deadline)
	if r.Err != "" {
		m.shadowErrors.Add(1)
	}
	return r
}

// setRevisions points the comparison at the release's versions now: a new
// candidate (or primary, or baseline) starts a new comparison.
func (m *mirrorer) setRevisions(revs shadow.Revisions, cmp *shadow.Comparer, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.coll == nil || m.coll.Revisions() != revs {
		m.coll = shadow.NewCollector(cmp, revs, now)
		return
	}
	m.coll.SetComparer(cmp)
}

// report is the comparison so far with the counters.
func (m *mirrorer) report() shadow.Report {
	m.mu.Lock()
	coll := m.coll
	m.mu.Unlock()
	var rep shadow.Report
	if coll != nil {
		rep = coll.Report()
	}
	rep.Release = m.release
	rep.Counters = shadow.Counters{
		Sampled: m.sampled.Load(), Dropped: m.dropped.Load(), SkippedBody: m.skippedBody.Load(),
		Compared: m.compared.Load(), ShadowErrors: m.shadowErrors.Load(),
		InFlight: m.inFlight.Load(), Queued: int64(len(m.jobs)),
	}
	return rep
}

// attachMirrors gives each mirroring release of t its mirrorer, creating
// or rebuilding them as needed, and stops those of releases that no longer
// mirror. Called under r.mu before t is stored.
func (r *Router) attachMirrors(t *table) {
	if r.mirrors == nil {
		r.mirrors = map[string]*mirrorer{}
	}
	active := map[string]bool{}
	now := time.Now()
	for _, rel := range t.releases {
		mc := rel.mirror
		if mc == nil {
			continue
		}
		active[rel.name] = true
		old := r.mirrors[rel.name]
		mr := old
		if mr == nil || mr.opts != mc.opts || mr.stopped() {
			mr = newMirrorer(rel.name, mc.opts)
			if old != nil {
				old.stop()
				mr.coll = old.coll
				mr.sampled.Store(old.sampled.Load())
				mr.dropped.Store(old.dropped.Load())
				mr.skippedBody.Store(old.skippedBody.Load())
				mr.compared.Store(old.compared.Load())
				mr.shadowErrors.Store(old.shadowErrors.Load())
			}
			r.mirrors[rel.name] = mr
		}
		revs := shadow.Revisions{Primary: rel.backend(Stable).revision, Candidate: rel.backend(Canary).revision}
		if b := rel.backend(Baseline); b != nil {
			revs.Secondary = b.revision
		}
		cmp, _ := shadow.NewComparer(mc.compare) // compileMirror checked it
		mr.setRevisions(revs, cmp, now)
		mc.m = mr
	}
	for name, mr := range r.mirrors {
		if !active[name] {
			mr.stop()
		}
	}
}

// MirrorReport returns the comparison of release's mirrored answers (also
// after mirroring ended); ok is false when the release never mirrored.
func (r *Router) MirrorReport(release string) (shadow.Report, bool) {
	r.mu.Lock()
	mr := r.mirrors[release]
	r.mu.Unlock()
	if mr == nil {
		return shadow.Report{}, false
	}
	return mr.report(), true
}
