package controlplane

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/dataplane"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Healing the data plane. The data plane runs the router and every version
// as its children: a kill -9 of it takes them all. The control plane asks
// it who it is every tick; when it is gone it records DataPlaneLost, tells
// the engine every copy is not ready and the weights are unknown (so
// nothing moves), starts a new data plane with backoff, defines the
// platforms again, starts the copies the statuses need and lets the routing
// table follow from them, as after a restart of the control plane.

const (
	// aliveFailures is how many Alive calls in a row must fail, other than
	// by "nothing listens", before a data plane that may only be slow
	// counts as lost.
	aliveFailures = 3
	// restartMin and restartMax bound the backoff between attempts to
	// start a new data plane.
	restartMin = 200 * time.Millisecond
	restartMax = 5 * time.Second
)

// health is what the control plane knows of its data plane. Run alone
// changes it; the API reads it.
type health struct {
	mu       sync.Mutex
	id       string    // the data plane everything was defined in
	down     bool      // lost, no new one yet
	since    time.Time // when it was found lost (wall clock)
	reason   string    // why it counts as lost
	fails    int       // Alive calls failed in a row
	attempts int       // failed attempts to start a new one since down
	nextTry  time.Time
}

// downReason is "" while the data plane serves, else why it does not.
func (h *health) downReason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return ""
	}
	return fmt.Sprintf("the data plane is down since %s (%s); kanaria up is starting a new one", h.since.UTC().Format(time.TimeOnly), h.reason)
}

// checkDataPlane runs every tick before the rollouts are reconciled.
func (c *ControlPlane) checkDataPlane(ctx context.Context) {
	h := &c.health
	h.mu.Lock()
	down := h.down
	h.mu.Unlock()
	if !down {
		id, err := c.opts.DataPlane.Alive(ctx)
		if err == nil {
			h.fails = 0
			if id != h.id {
				// Someone else's data plane serves the state directory:
				// it runs nothing of ours.
				c.adopt(ctx, "another data plane ("+id+") serves the state directory")
			}
			return
		}
		h.fails++
		if !errors.Is(err, dataplane.ErrNotRunning) && h.fails < aliveFailures {
			return
		}
		c.lost(err)
	}
	if time.Now().Before(h.nextTry) {
		return
	}
	if err := c.opts.DataPlane.Restart(ctx); err != nil {
		c.retryLater("cannot start a new data plane", err)
		return
	}
	c.adopt(ctx, "")
}

// lost marks the data plane down and notes it in every rollout's history.
func (c *ControlPlane) lost(err error) {
	h := &c.health
	h.mu.Lock()
	h.down, h.since, h.reason, h.attempts, h.nextTry = true, time.Now(), err.Error(), 0, time.Time{}
	old := h.id
	h.mu.Unlock()
	c.router.down.Store(true)
	c.log.Error("data plane lost: its router and versions are gone; starting a new one", "dataplane", old, "err", err)
	c.noteAll(engine.EventDataPlaneLost, fmt.Sprintf("the data plane (%s) stopped answering (%v): its router and versions are gone; the release waits while a new one starts", old, err))
}

// retryLater schedules the next attempt with backoff; the log says each
// attempt once, not every tick.
func (c *ControlPlane) retryLater(what string, err error) {
	h := &c.health
	h.mu.Lock()
	h.attempts++
	d := min(restartMin<<min(h.attempts-1, 8), restartMax)
	h.nextTry = time.Now().Add(d)
	h.reason = fmt.Sprintf("%s: %v", what, err)
	n := h.attempts
	h.mu.Unlock()
	c.log.Warn(what, "attempt", n, "next in", d, "err", err)
}

// adopt makes the data plane that now answers run what the statuses need:
// each rollout's platform is defined again, every copy asked to run is
// started, and the routing table is rebuilt from them as they become ready
// (the last table's endpoints died with the old processes, and their ports
// may now belong to anyone). why is "" after a restart.
func (c *ControlPlane) adopt(ctx context.Context, why string) {
	h := &c.health
	h.mu.Lock()
	wasDown, since := h.down, h.since
	h.mu.Unlock()
	id := c.opts.DataPlane.ID()
	for _, name := range c.names {
		r := c.rollouts[name]
		if r.ext != nil {
			continue // AWS keeps ECS task sets: nothing of them died
		}
		pf, _, err := c.newPlatform(ctx, r.spec)
		if err != nil {
			c.lost(fmt.Errorf("the new data plane refused rollout %s's platform: %w", name, err))
			c.retryLater("cannot define the platforms in the new data plane", err)
			return
		}
		r.mu.Lock()
		r.pf().Close(ctx) // forgets the old one's cached answers
		r.setPlatform(pf)
		r.startErrs, r.restarts = map[string]string{}, map[string]int{}
		keys := make([]string, 0, len(r.running))
		for k := range r.running {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.ensure(ctx, r, r.running[k])
		}
		msg := fmt.Sprintf("a new data plane (%s) runs; started again: %s; users are served as soon as they are ready", id, strings.Join(keys, ", "))
		if why != "" {
			msg = why + "; " + msg
		} else if wasDown {
			msg = fmt.Sprintf("after %s without one, %s", time.Since(since).Round(time.Millisecond), msg)
		}
		r.notes = append(r.notes, engine.Event{Type: engine.EventDataPlaneRestarted, Message: msg})
		r.mu.Unlock()
	}
	c.routerMu.Lock()
	c.lastApplied = nil
	c.routerMu.Unlock()
	h.mu.Lock()
	h.id, h.down, h.fails, h.attempts, h.nextTry = id, false, 0, 0, time.Time{}
	h.mu.Unlock()
	c.router.down.Store(false)
	c.log.Info("data plane restarted", "dataplane", id, "reason", why)
	c.syncRouter()
}

// noteAll adds an event to the next transition of every rollout the data
// plane runs.
func (c *ControlPlane) noteAll(typ, msg string) {
	for _, name := range c.names {
		r := c.rollouts[name]
		if r.ext != nil {
			continue
		}
		r.mu.Lock()
		r.notes = append(r.notes, engine.Event{Type: typ, Message: msg})
		r.mu.Unlock()
	}
}

// refuseWhileDown refuses, with nothing changed, the commands that would
// move traffic or start copies while the data plane is down: they could
// not be carried out, and a promote must not finish a release that nobody
// serves. Pause, abort and stop are taken: they only hold or take the
// canary out, and the new data plane starts from what they leave.
func (c *ControlPlane) refuseWhileDown(r *rollout, cmd engine.Command) error {
	name := r.spec.Metadata.Name
	if r.ext != nil {
		return nil // run by AWS, not by the data plane
	}
	switch cmd.Kind {
	case engine.CmdStart, engine.CmdPromote, engine.CmdResume, engine.CmdUndo:
	default:
		return nil
	}
	if why := c.health.downReason(); why != "" {
		return &wire.UnavailableError{Reason: fmt.Sprintf("rollout %s: %s not carried out: %s; try again once it runs", name, cmd.Kind, why)}
	}
	return nil
}
