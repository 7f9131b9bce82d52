package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// deadlineSlack is added to a deadline before the pass that handles it, so
// the engine's clock is past it, not at it.
const deadlineSlack = 10 * time.Millisecond

// clusterFields sets the status fields the engine does not own: the
// observed generation, the printer columns' step and weight, and the
// conditions, kept true to the phase.
func (p *pass) clusterFields(ctx context.Context) {
	st := &p.st
	gen := p.ro.Generation
	st.ObservedGeneration = gen
	st.Step = stepColumn(p.spec, *st)
	st.CanaryWeight = ""
	if st.CanaryRevision != "" {
		st.CanaryWeight = st.Weights.CanaryPPM.String()
	}
	set := func(c v1alpha1.Condition) { st.Conditions = setCondition(st.Conditions, c, gen, p.now) }
	set(v1alpha1.Condition{Type: v1alpha1.ConditionInvalid, Status: v1alpha1.ConditionFalse, Reason: "Valid"})

	stable, ok := p.pf.State(platform.Instance{Rollout: p.ro.Name, Revision: st.StableRevision})
	switch {
	case !ok:
		set(v1alpha1.Condition{Type: v1alpha1.ConditionReady, Status: v1alpha1.ConditionUnknown, Reason: "StableUnknown",
			Message: fmt.Sprintf("the stable revision %s does not run yet", st.StableRevision)})
	case stable.Ready:
		set(v1alpha1.Condition{Type: v1alpha1.ConditionReady, Status: v1alpha1.ConditionTrue, Reason: "StableReady",
			Message: fmt.Sprintf("the stable revision %s is ready", st.StableRevision)})
	default:
		set(v1alpha1.Condition{Type: v1alpha1.ConditionReady, Status: v1alpha1.ConditionFalse, Reason: "StableNotReady",
			Message: fmt.Sprintf("the stable revision %s is not ready: %s", st.StableRevision, stable.Reason)})
	}

	progressing := v1alpha1.Condition{Type: v1alpha1.ConditionProgressing, Message: st.Message}
	switch st.Phase {
	case v1alpha1.PhaseProgressing:
		progressing.Status, progressing.Reason = v1alpha1.ConditionTrue, "ReleaseProgressing"
	case v1alpha1.PhasePaused:
		progressing.Status, progressing.Reason = v1alpha1.ConditionTrue, "ReleasePaused"
	case v1alpha1.PhaseAborted:
		progressing.Status, progressing.Reason = v1alpha1.ConditionFalse, "ReleaseAborted"
	default:
		progressing.Status, progressing.Reason = v1alpha1.ConditionFalse, "NoRelease"
	}
	if p.mem.waiting != "" {
		progressing.Message += "; waiting: " + p.mem.waiting
	} else if st.CanaryRevision != "" {
		progressing.Message += p.explain(ctx)
	}
	set(progressing)

	paused := v1alpha1.Condition{Type: v1alpha1.ConditionPaused, Status: v1alpha1.ConditionFalse, Reason: "NotPaused"}
	if st.Phase == v1alpha1.PhasePaused {
		paused.Status, paused.Message = v1alpha1.ConditionTrue, st.Message
		paused.Reason = map[string]string{
			engine.PausedByStep:         "PauseStep",
			engine.PausedByUser:         "PausedByUser",
			engine.PausedByPromotion:    "WaitingForPromotion",
			engine.PausedByInconclusive: "AnalysisInconclusive",
		}[st.PausedBy]
		if paused.Reason == "" {
			paused.Reason = "Paused"
		}
	}
	set(paused)
}

// setCondition sets c (its type's entry) in conds: the transition time
// changes only when the status does.
func setCondition(conds []v1alpha1.Condition, c v1alpha1.Condition, gen int64, now time.Time) []v1alpha1.Condition {
	c.ObservedGeneration = gen
	for i := range conds {
		if conds[i].Type != c.Type {
			continue
		}
		c.LastTransitionTime = conds[i].LastTransitionTime
		if conds[i].Status != c.Status {
			c.LastTransitionTime = now
		}
		out := append([]v1alpha1.Condition(nil), conds...)
		out[i] = c
		return out
	}
	c.LastTransitionTime = now
	return append(append([]v1alpha1.Condition(nil), conds...), c)
}

// stepColumn is status.step, "3/8": the canary step in progress, all of
// them once the last release finished, nothing otherwise.
func stepColumn(r v1alpha1.Rollout, st v1alpha1.RolloutStatus) string {
	c := r.Spec.Strategy.Canary
	if c == nil || len(c.Steps) == 0 {
		return ""
	}
	n := len(c.Steps)
	switch {
	case st.Phase == v1alpha1.PhaseProgressing || st.Phase == v1alpha1.PhasePaused:
		return fmt.Sprintf("%d/%d", min(st.StepIndex+1, n), n)
	case st.Phase == v1alpha1.PhaseHealthy && st.StepIndex >= n:
		return fmt.Sprintf("%d/%d", n, n)
	}
	return ""
}

// requeue is when the Rollout must be looked at again without news from a
// watch: at the release's next deadline, and every PollInterval while a
// release progresses (readiness and router read-backs arrive in objects
// this controller does not watch) or the cluster is not where the status
// says yet. Zero: only watches.
func (p *pass) requeue(done bool) time.Duration {
	var next time.Duration
	consider := func(d time.Duration) {
		if d <= 0 {
			d = deadlineSlack
		}
		if next == 0 || d < next {
			next = d
		}
	}
	// A running analysis (a background one goes on in a pause) reads the
	// routers' samples and asks its providers on every pass.
	if !done || p.st.Phase == v1alpha1.PhaseProgressing || p.mem.analysis.Running() {
		consider(p.r.PollInterval)
	}
	// Waiting for a read-back no step clock runs (the poll above sees the
	// read-back); an approximate provider's release never waits for one.
	if engine.WaitsForReadBack(p.st) && !traffic.Has(p.tp, traffic.Approximate) {
		return next
	}
	if t := nextDeadline(p.spec, p.st); !t.IsZero() {
		consider(t.Sub(p.now) + deadlineSlack)
	}
	return next
}

// nextDeadline is the earliest time at which the engine will change st by
// the clock alone (zero: none): the warm previous revision's scale-down, a
// timed pause's end, an analysis's end or timeout (canary step, blue/green
// pre- or post-promotion), blue/green's auto-promotion.
func nextDeadline(r v1alpha1.Rollout, st v1alpha1.RolloutStatus) time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	consider(st.ScaleDownAt)
	if st.Phase != v1alpha1.PhaseProgressing || !st.CanaryReady {
		return at
	}
	if c := r.Spec.Strategy.Canary; c != nil && st.StepIndex < len(c.Steps) {
		s := c.Steps[st.StepIndex]
		switch {
		case s.Pause != nil && s.Pause.Duration != nil:
			consider(st.StepStartedAt.Add(s.Pause.Duration.D()))
		}
	}
	for _, a := range engine.Analyses(r, st) {
		if a.Settings != nil {
			// Its end, or its timeout if it is short of samples then.
			consider(st.StepStartedAt.Add(a.Settings.Duration.D()))
			consider(st.StepStartedAt.Add(a.Settings.EffectiveTimeout()))
		}
	}
	if bg := r.Spec.Strategy.BlueGreen; bg != nil && bg.AutoPromotion {
		consider(st.StepStartedAt.Add(bg.AutoPromotionDelay.D()))
	}
	return at
}
