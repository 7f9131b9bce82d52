package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/notify"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// rollout is one rollout's live state. mu serializes commands and ticks, so
// the engine always sees the status the last transition left.
type rollout struct {
	mu     sync.Mutex
	spec   v1alpha1.Rollout
	status v1alpha1.RolloutStatus
	// platform is where the versions run; a new data plane replaces it
	// (heal.go), hence its own lock: the router table is rebuilt from it
	// outside mu.
	pfMu     sync.RWMutex
	platform platform.Platform
	// traffic is the last assignment the engine asked for; the router table
	// is rebuilt from it and the platform's live endpoints.
	traffic engine.Traffic
	// running are the copies asked to run, by engine.VersionKey.
	running map[string]platform.Instance
	// startErrs are copies the platform refused to start, reported to the
	// engine as failed so a release never waits on them forever.
	startErrs map[string]string
	// restarts are the copies' restart counts last observed, so each
	// crash-and-restart becomes one event.
	restarts map[string]int
	// notes are events the edges noticed, recorded with the next
	// transition (engine.Observations.Events).
	notes []engine.Event
	// notifier sends events to the spec's receivers; nil sends nothing.
	notifier *notify.Notifier
	// analysis holds the release's running (or last) analyses (analysis.go).
	analysis analysisState
	// ext is set when the traffic is moved outside kanaria's router (ELB
	// weights for ECS task sets; external.go).
	ext *external
}

// openRollout restores a rollout from the store, or starts it fresh, and
// re-applies the world its status implies.
func (c *ControlPlane) openRollout(ctx context.Context, sp v1alpha1.Rollout) (*rollout, error) {
	pf, ext, err := c.newPlatform(ctx, sp)
	if err != nil {
		return nil, err
	}
	r := &rollout{spec: sp, platform: pf, ext: ext, running: map[string]platform.Instance{}, startErrs: map[string]string{}, restarts: map[string]int{}}
	if ext != nil {
		// Refused before anything is written or changed.
		if err := ext.validate(ctx); err != nil {
			pf.Close(ctx)
			return nil, err
		}
	}
	if r.notifier, err = c.newNotifier(r); err != nil {
		return nil, err
	}
	name := sp.Metadata.Name
	raw, _, ok, err := c.store.Status(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		st, acts := engine.Initial(sp, c.opts.Now())
		if err := c.persist(ctx, r, st, acts); err != nil {
			return nil, err
		}
		r.status = st
		c.execute(ctx, r, acts)
		return r, nil
	}
	if err := json.Unmarshal(raw, &r.status); err != nil {
		return nil, fmt.Errorf("stored status is unreadable: %w", err)
	}
	c.loadEvidence(ctx, r)
	c.resume(ctx, r)
	return r, nil
}

// pf is the rollout's platform.
func (r *rollout) pf() platform.Platform {
	r.pfMu.RLock()
	defer r.pfMu.RUnlock()
	return r.platform
}

// setPlatform replaces the platform (a new data plane runs the versions).
func (r *rollout) setPlatform(p platform.Platform) {
	r.pfMu.Lock()
	r.platform = p
	r.pfMu.Unlock()
}

// resume re-creates the world the stored status implies: the versions it
// needs are started again and the router gets the weights it had.
func (c *ControlPlane) resume(ctx context.Context, r *rollout) {
	st := r.status
	for _, in := range desiredInstances(r.spec.Metadata.Name, st, c.opts.Now()) {
		c.ensure(ctx, r, in)
	}
	c.setTraffic(r, trafficOf(st))
	c.log.Info("resumed", "rollout", st.Rollout, "phase", st.Phase, "step", stepOf(r.spec, st),
		"canary", st.Weights.CanaryPPM.String())
}

// stepOf is the step as `kanaria status` shows it ("2/4", counted from 1),
// "-" with no release in progress or no steps, so the log and the status
// never disagree.
func stepOf(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) string {
	c := sp.Spec.Strategy.Canary
	if c == nil || len(c.Steps) == 0 || st.CanaryRevision == "" ||
		(st.Phase != v1alpha1.PhaseProgressing && st.Phase != v1alpha1.PhasePaused) {
		return "-"
	}
	return fmt.Sprintf("%d/%d", min(st.StepIndex+1, len(c.Steps)), len(c.Steps))
}

// reconcile feeds the engine what the platform and router report, and acts on
// the resulting transition, if any.
func (c *ControlPlane) reconcile(ctx context.Context, r *rollout) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.reconcileLocked(ctx, r) {
		c.settle(ctx, r)
	}
}

// settle reconciles again at once while the release waits for weights the
// local router applied synchronously (its read-back is immediate), so a
// step after a setWeight starts without waiting for the next tick. An
// external platform's load balancer reads back on its own time: the next
// tick sees it. Bounded: each round takes at least one step.
func (c *ControlPlane) settle(ctx context.Context, r *rollout) {
	for i := 0; i < 64 && r.ext == nil && engine.WaitsForReadBack(r.status); i++ {
		if !c.reconcileLocked(ctx, r) {
			return
		}
	}
}

// reconcileLocked is one engine step with r.mu held; it reports whether
// the status changed or actions were carried out.
func (c *ControlPlane) reconcileLocked(ctx context.Context, r *rollout) bool {
	if r.ext != nil {
		c.actExternal(ctx, r)
	}
	obs := c.observe(r)
	c.analyze(ctx, r, &obs)
	obs.Events = r.notes
	st, acts := engine.Reconcile(r.spec, r.status, obs, c.opts.Now())
	if st.Generation == r.status.Generation && len(acts) == 0 {
		return false
	}
	if err := c.persist(ctx, r, st, acts); err != nil {
		c.log.Error("cannot persist a transition, not acting on it", "rollout", r.spec.Metadata.Name, "err", err)
		return false
	}
	r.notes = nil
	r.status = st
	r.endStaleAnalyses()
	c.execute(ctx, r, acts)
	return true
}

// command applies a user's command: persist, then act.
func (c *ControlPlane) command(ctx context.Context, r *rollout, cmd engine.Command) (v1alpha1.RolloutStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, acts, err := engine.Apply(r.spec, r.status, cmd, c.opts.Now())
	if err != nil {
		return r.status, err
	}
	if st.Generation != r.status.Generation || len(acts) > 0 {
		if err := c.persist(ctx, r, st, acts); err != nil {
			return r.status, fmt.Errorf("persist: %w", err)
		}
		r.status = st
		r.endStaleAnalyses()
		c.execute(ctx, r, acts)
		c.settle(ctx, r)
	}
	return r.status, nil
}

// observe asks the platform about every copy it was asked to run, and the
// router about the weights in force. While the data plane is down nothing
// can be asked: every copy is not ready, the weights unknown.
func (c *ControlPlane) observe(r *rollout) engine.Observations {
	obs := engine.Observations{Versions: map[string]engine.VersionState{}}
	if why := c.health.downReason(); why != "" && r.ext == nil {
		for key := range r.running {
			obs.Versions[key] = engine.VersionState{Reason: why, Unavailable: true}
		}
		return obs
	}
	for key, in := range r.running {
		if reason, failed := r.startErrs[key]; failed {
			obs.Versions[key] = engine.VersionState{Failed: true, Reason: reason}
			continue
		}
		s, ok := r.pf().State(in)
		if !ok {
			continue
		}
		c.noteRestarts(r, key, s)
		obs.Versions[key] = engine.VersionState{Ready: s.Ready, Failed: s.Failed, Reason: s.Reason,
			Unavailable: !s.Ready && len(s.Endpoints) == 0}
	}
	if r.ext != nil {
		if w := r.ext.observed; w != nil {
			obs.RouterWeights = w
		}
		return obs
	}
	if w, ok := c.router.Weights(r.spec.Metadata.Name); ok {
		obs.RouterWeights = &w
	}
	return obs
}

// persist writes the status, the transition's events and the evidence of
// the running analyses in one transaction, before any action is carried out.
func (c *ControlPlane) persist(ctx context.Context, r *rollout, st v1alpha1.RolloutStatus, acts []engine.Action) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var events []store.Event
	for _, a := range acts {
		if a.Kind == engine.ActRecordEvent && a.Event != nil {
			events = append(events, store.Event{
				Rollout: r.spec.Metadata.Name, Time: a.Event.Time, Type: a.Event.Type, Message: a.Event.Message,
			})
		}
	}
	r.analysis.savedAt = c.opts.Now()
	return c.store.SaveTransitionAnalysis(ctx, r.spec.Metadata.Name, st.Generation, raw, events, r.evidenceJSON(r.analysis.savedAt))
}

// execute carries out actions in order. Traffic changes reach the router at
// once, so "weights to 0, then stop the canary" happens in that order.
func (c *ControlPlane) execute(ctx context.Context, r *rollout, acts []engine.Action) {
	name := r.spec.Metadata.Name
	for _, a := range acts {
		switch a.Kind {
		case engine.ActEnsureVersion:
			c.ensure(ctx, r, platform.Instance{Rollout: name, Revision: a.Revision, Baseline: a.Baseline})
		case engine.ActStopVersion:
			in := platform.Instance{Rollout: name, Revision: a.Revision, Baseline: a.Baseline}
			delete(r.running, engine.VersionKey(in.Revision, in.Baseline))
			delete(r.startErrs, engine.VersionKey(in.Revision, in.Baseline))
			delete(r.restarts, engine.VersionKey(in.Revision, in.Baseline))
			if r.ext != nil {
				// Stopped once the traffic reads back without it
				// (actExternal), not before.
				continue
			}
			if err := r.pf().Stop(ctx, in); err != nil {
				c.log.Warn("stop failed", "rollout", name, "version", engine.VersionKey(in.Revision, in.Baseline), "err", err)
			}
		case engine.ActRestartVersion:
			in := platform.Instance{Rollout: name, Revision: a.Revision, Baseline: a.Baseline}
			if err := r.pf().Stop(ctx, in); err != nil {
				c.log.Warn("stop before a restart failed", "rollout", name, "version", engine.VersionKey(in.Revision, in.Baseline), "err", err)
			}
			c.ensure(ctx, r, in)
		case engine.ActSetTraffic:
			if a.Traffic != nil {
				c.setTraffic(r, *a.Traffic)
			}
		case engine.ActRecordEvent:
			if a.Event != nil {
				c.log.Info(a.Event.Type, "rollout", name, "message", a.Event.Message)
				c.notify(r, *a.Event)
			}
		}
	}
}

// ensure starts a copy and remembers it for observation.
func (c *ControlPlane) ensure(ctx context.Context, r *rollout, in platform.Instance) {
	key := engine.VersionKey(in.Revision, in.Baseline)
	r.running[key] = in
	delete(r.startErrs, key)
	if err := r.pf().Ensure(ctx, in); err != nil {
		r.startErrs[key] = err.Error()
		c.log.Warn("start failed", "rollout", in.Rollout, "version", key, "err", err)
	}
}

// noteRestarts turns a copy's grown restart count into one Restarted event:
// the platform restarted a crashed process on its own, which no transition
// would otherwise record. The first count seen (after a control-plane
// restart, say) is only remembered.
func (c *ControlPlane) noteRestarts(r *rollout, key string, s platform.State) {
	last, seen := r.restarts[key]
	r.restarts[key] = s.Restarts
	if !seen || s.Restarts <= last {
		return
	}
	why := s.LastExit
	if why == "" {
		why = "it exited"
	}
	r.notes = append(r.notes, engine.Event{Type: engine.EventRestarted,
		Message: fmt.Sprintf("%s %s crashed and was restarted (restart %d): %s", roleOf(r.status, key), key, s.Restarts, why)})
}

// roleOf names what a copy is in a status, for events.
func roleOf(st v1alpha1.RolloutStatus, key string) string {
	switch key {
	case st.CanaryRevision:
		return "canary"
	case st.StableRevision:
		return "stable"
	case engine.VersionKey(st.StableRevision, true):
		return "baseline copy"
	}
	return "version"
}
