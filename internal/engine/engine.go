package engine

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// tx is one transition in the making: a working copy of the status and the
// actions collected so far, in the order the caller must carry them out.
type tx struct {
	r    v1alpha1.Rollout
	st   v1alpha1.RolloutStatus
	now  time.Time
	acts []Action
	// approximate: obs.Approximate; no read-back is waited for.
	approximate bool
}

func begin(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, now time.Time) *tx {
	return &tx{r: r, st: st, now: now}
}

// commit returns the new status, bumping Generation and UpdatedAt only when
// something changed, so an idle Reconcile is free for the executor to skip.
func (t *tx) commit(orig v1alpha1.RolloutStatus) (v1alpha1.RolloutStatus, []Action) {
	if len(t.acts) == 0 && reflect.DeepEqual(orig, t.st) {
		return orig, nil
	}
	t.st.Generation = orig.Generation + 1
	t.st.UpdatedAt = t.now
	return t.st, t.acts
}

func (t *tx) event(typ, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.acts = append(t.acts, Action{Kind: ActRecordEvent, Event: &Event{Type: typ, Message: msg, Time: t.now}})
}

func (t *tx) ensure(rev string, baseline bool) {
	t.acts = append(t.acts, Action{Kind: ActEnsureVersion, Revision: rev, Baseline: baseline})
}

func (t *tx) stop(rev string, baseline bool) {
	t.acts = append(t.acts, Action{Kind: ActStopVersion, Revision: rev, Baseline: baseline})
}

// route emits the complete routing assignment the status describes. Every
// weight change goes through here, before anything is stopped.
func (t *tx) route() {
	tr := &Traffic{StableRevision: t.st.StableRevision, CanaryRevision: t.st.CanaryRevision, Weights: t.st.Weights}
	if tr.CanaryRevision != "" && len(t.st.HeaderRoutes) > 0 {
		tr.HeaderRoutes = slices.Clone(t.st.HeaderRoutes)
	}
	if t.st.Baseline {
		tr.BaselineRevision = t.st.StableRevision
	}
	tr.Mirror, tr.MirrorRoutes = t.mirroring()
	t.acts = append(t.acts, Action{Kind: ActSetTraffic, Traffic: tr})
}

// setCanaryWeight sets the canary's share (at most 100 %); a baseline gets
// the same share as long as both fit, so at 60 % the baseline has 40 % and at
// 100 % none.
func (t *tx) setCanaryWeight(ppm v1alpha1.Weight) {
	ppm = min(ppm, v1alpha1.PPM)
	w := v1alpha1.Weights{CanaryPPM: ppm}
	if t.st.Baseline {
		w.BaselinePPM = min(ppm, v1alpha1.PPM-ppm)
	}
	t.st.Weights = w
	t.route()
}

// setHeaderRoute puts h in force: a route of the same name is replaced in
// place (so the order of routes stays that of their first steps), a new one
// is appended, and one without match is removed. The router gets the
// routes with the weights, in one SetTraffic.
func (t *tx) setHeaderRoute(h v1alpha1.SetHeaderRoute) {
	routes := slices.Clone(t.st.HeaderRoutes)
	i := slices.IndexFunc(routes, func(r v1alpha1.SetHeaderRoute) bool { return r.Name == h.Name })
	switch {
	case len(h.Match) == 0 && i >= 0:
		routes = slices.Delete(routes, i, i+1)
	case len(h.Match) == 0:
		return // removing a route that is not there changes nothing
	case i >= 0:
		routes[i] = *h.DeepCopy()
	default:
		routes = append(routes, *h.DeepCopy())
	}
	if len(routes) == 0 {
		routes = nil
	}
	t.st.HeaderRoutes = routes
	t.route()
}

func (t *tx) canary() *v1alpha1.CanaryStrategy { return t.r.Spec.Strategy.Canary }

// inRelease: a canary or green revision exists and may get traffic.
func inRelease(st v1alpha1.RolloutStatus) bool {
	return st.Phase == v1alpha1.PhaseProgressing || st.Phase == v1alpha1.PhasePaused
}

func (t *tx) clock(d time.Duration) string { return t.now.Add(d).UTC().Format(time.TimeOnly) }

// Initial is the first status of a rollout: Healthy, spec.revision stable
// with all traffic. spec.revision only seeds this status; later releases
// change the stable revision through start and undo.
func Initial(r v1alpha1.Rollout, now time.Time) (v1alpha1.RolloutStatus, []Action) {
	t := begin(r, v1alpha1.RolloutStatus{Rollout: r.Metadata.Name, Phase: v1alpha1.PhaseHealthy, StableRevision: r.Spec.Revision}, now)
	t.ensure(r.Spec.Revision, false)
	t.route()
	t.st.Message = fmt.Sprintf("%s gets all traffic once it is ready", r.Spec.Revision)
	t.event(EventInitialized, "stable revision %s started; it gets all traffic once it is ready", r.Spec.Revision)
	return t.commit(v1alpha1.RolloutStatus{})
}

// Reconcile advances what time and observations decide: it records the
// router's weights, scales down a warm previous revision when its time is
// up, aborts a release whose canary or baseline failed, and moves a
// progressing release on (readiness, elapsed pauses, auto-promotion). A
// user's pause freezes everything but failure detection and scale-down.
func Reconcile(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, obs Observations, now time.Time) (v1alpha1.RolloutStatus, []Action) {
	t := begin(r, st, now)
	t.approximate = obs.Approximate
	for _, e := range obs.Events {
		t.event(e.Type, "%s", e.Message)
	}
	t.observeWeights(obs.RouterWeights)
	t.scaleDownPrevious()
	t.stableHealth(obs)
	if inRelease(t.st) {
		if why := failure(t.st, obs); why != "" {
			t.endRelease(v1alpha1.PhaseAborted, EventAborted, why)
		} else if a := t.analysisFailure(obs); a != nil {
			t.event(EventAnalysisFailed, "%s", a.Summary)
			t.endRelease(v1alpha1.PhaseAborted, EventAborted, "analysis failed: "+a.Summary)
		} else {
			t.readiness(obs)
			if t.st.Phase == v1alpha1.PhaseProgressing {
				t.progress(obs, wasPending(st, obs.Approximate))
			}
		}
	}
	return t.commit(st)
}

// observeWeights records the weights read back from the router; unknown
// (nil) clears them, so a status never shows weights nobody serves.
func (t *tx) observeWeights(w *v1alpha1.Weights) {
	switch {
	case w == nil:
		t.st.ObservedWeights = nil
	case t.st.ObservedWeights == nil || *t.st.ObservedWeights != *w:
		c := *w
		t.st.ObservedWeights = &c
	}
}

// failure says why the canary or its baseline failed, or "".
func failure(st v1alpha1.RolloutStatus, obs Observations) string {
	if v := obs.Versions[VersionKey(st.CanaryRevision, false)]; v.Failed {
		return fmt.Sprintf("canary %s failed: %s", st.CanaryRevision, orUnknown(v.Reason))
	}
	if v := obs.Versions[VersionKey(st.StableRevision, true)]; st.Baseline && v.Failed {
		return fmt.Sprintf("baseline copy of %s failed: %s", st.StableRevision, orUnknown(v.Reason))
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func ready(st v1alpha1.RolloutStatus, obs Observations) bool {
	if !obs.Versions[VersionKey(st.CanaryRevision, false)].Ready {
		return false
	}
	return !st.Baseline || obs.Versions[VersionKey(st.StableRevision, true)].Ready
}

// progress moves a Progressing release on: first wait for readiness, then
// for the router to read back the weights (wasPending: the status before
// this tick waited for it; readback.go), then hand over to the strategy.
func (t *tx) progress(obs Observations, wasPending bool) {
	if !t.st.CanaryReady {
		if !ready(t.st, obs) {
			return
		}
		t.st.CanaryReady = true
		t.st.StepStartedAt = t.now
		t.event(EventReady, "%s is ready", t.st.CanaryRevision)
		if t.st.FullPromotion {
			t.finish()
		} else if c := t.canary(); c != nil {
			if c.Mirror != nil && c.Mirror.Percentage > 0 {
				t.route() // the strategy's mirror starts with the canary
			}
			t.enterSteps()
		} else {
			t.greenReady()
		}
		return
	}
	switch {
	case t.st.FullPromotion:
		t.finish()
	case !t.readBack():
		t.awaitReadBack()
	case wasPending:
		t.readBackArrived()
	case t.canary() != nil:
		t.canaryTick(obs)
	default:
		t.greenTick(obs)
	}
}

// scaleDownPrevious stops the warm previous stable once its time is up. It
// never stops a revision that serves traffic (it may have become stable
// again or be released anew).
func (t *tx) scaleDownPrevious() {
	if t.st.ScaleDownAt.IsZero() || t.now.Before(t.st.ScaleDownAt) {
		return
	}
	t.st.ScaleDownAt = time.Time{}
	prev := t.st.PreviousRevision
	if prev == "" || prev == t.st.StableRevision || prev == t.st.CanaryRevision {
		return
	}
	t.stop(prev, false)
	t.event(EventScaledDown, "previous revision %s scaled down; undo now starts it again", prev)
}

// finish promotes the canary (or green) to stable: one SetTraffic with all
// traffic on it, then the baseline copy is stopped and the old stable kept
// warm for the scale-down delay so undo is instant.
func (t *tx) finish() {
	old, rev := t.st.StableRevision, t.st.CanaryRevision
	hadBaseline := t.st.Baseline
	olderWarm := ""
	if !t.st.ScaleDownAt.IsZero() && t.st.PreviousRevision != rev && t.st.PreviousRevision != old {
		olderWarm = t.st.PreviousRevision
	}
	t.st.StableRevision, t.st.CanaryRevision, t.st.Baseline = rev, "", false
	t.st.Weights, t.st.HeaderRoutes = v1alpha1.Weights{}, nil
	t.route()
	if hadBaseline {
		t.stop(old, true)
	}
	if olderWarm != "" {
		// Only one previous revision is tracked; an older warm one would
		// otherwise run forever.
		t.stop(olderWarm, false)
		t.event(EventScaledDown, "previous revision %s scaled down early: %s replaces it as the undo target", olderWarm, old)
	}
	t.resetRelease(v1alpha1.PhaseHealthy)
	if c := t.canary(); c != nil {
		t.st.StepIndex = len(c.Steps)
	}
	t.st.PreviousRevision = old
	t.keepWarm(old, fmt.Sprintf("%s is the stable revision", rev))
	t.event(EventFinished, "%s", t.st.Message)
}

// keepWarm schedules the scale-down of rev (the previous stable) and sets
// the message; with no delay it is stopped at once.
func (t *tx) keepWarm(rev, what string) {
	d := t.r.Spec.ScaleDownDelay()
	if d <= 0 {
		t.st.ScaleDownAt = time.Time{}
		t.stop(rev, false)
		t.st.Message = fmt.Sprintf("%s; %s stopped", what, rev)
		return
	}
	t.st.ScaleDownAt = t.now.Add(d)
	t.st.Message = fmt.Sprintf("%s; %s kept warm for undo until %s", what, rev, t.clock(d))
}

// endRelease takes the canary out: weights 0 first (one SetTraffic without
// the canary), then the canary and the baseline copy are stopped.
func (t *tx) endRelease(phase v1alpha1.Phase, typ, why string) {
	rev, hadBaseline := t.st.CanaryRevision, t.st.Baseline
	where := t.where()
	t.st.CanaryRevision, t.st.Baseline, t.st.Weights, t.st.HeaderRoutes = "", false, v1alpha1.Weights{}, nil
	t.route()
	t.stop(rev, false)
	if hadBaseline {
		t.stop(t.st.StableRevision, true)
	}
	t.resetRelease(phase)
	t.st.Message = fmt.Sprintf("release of %s %s %s: %s; %s serves all traffic", rev, map[v1alpha1.Phase]string{v1alpha1.PhaseAborted: "aborted", v1alpha1.PhaseHealthy: "stopped"}[phase], where, why, t.st.StableRevision)
	t.event(typ, "%s", t.st.Message)
}

// where names the release's position for messages ("at step 3/8").
func (t *tx) where() string {
	switch {
	case !t.st.CanaryReady && t.st.ReadyLostAt.IsZero():
		return "before it was ready"
	case t.canary() != nil && t.st.StepIndex < len(t.canary().Steps):
		return fmt.Sprintf("at step %d/%d", t.st.StepIndex+1, len(t.canary().Steps))
	case t.canary() == nil && t.st.StepIndex == bgPostAnalysis:
		return "after the switch, back to blue in one swap"
	}
	return "before the switch"
}

func (t *tx) resetRelease(phase v1alpha1.Phase) {
	t.st.Phase = phase
	t.st.StepIndex = 0
	t.st.PausedBy, t.st.PausedAt = "", time.Time{}
	t.st.CanaryReady, t.st.FullPromotion = false, false
	t.st.Mirrors = nil
	t.st.ReadyLostAt = time.Time{}
}
