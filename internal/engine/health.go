package engine

import (
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Backoff of a stable revision that does not serve: it is started again
// after stableRetryMin, then twice as long after each failed attempt, up to
// stableRetryMax.
const (
	stableRetryMin = time.Second
	stableRetryMax = time.Minute
)

// stableRetryDelay is the wait before attempt n+1 (n attempts made so far).
func stableRetryDelay(n int) time.Duration {
	if n > 6 { // 2^6 s already exceeds the cap
		return stableRetryMax
	}
	return min(stableRetryMin<<n, stableRetryMax)
}

// readiness keeps CanaryReady true to what is observed once a release's
// steps run. A canary (or baseline) that was ready and serves nothing any
// more (Unavailable: its only process crashed and is being restarted, the
// data plane is down and being started again) makes it false, with
// ReadyLostAt: nothing moves and promote is refused until it is ready
// again. One that serves with part of its instances (a Deployment scaling
// up) does not. Then the release goes on where it was,
// its step clock shifted by the time lost, as after a user's pause, so a
// timed pause or an analysis does not count time nobody was served.
func (t *tx) readiness(obs Observations) {
	rev := t.st.CanaryRevision
	switch {
	case t.st.CanaryReady && unavailable(t.st, obs):
		t.st.CanaryReady, t.st.ReadyLostAt = false, t.now
		t.st.Message = fmt.Sprintf("%s; the release waits %s until it is ready again", notReadyReason(t.st, obs), t.where())
		t.event(EventNotReady, "%s", t.st.Message)
	case !t.st.CanaryReady && !t.st.ReadyLostAt.IsZero() && ready(t.st, obs):
		lost := t.now.Sub(t.st.ReadyLostAt)
		t.st.CanaryReady, t.st.ReadyLostAt = true, time.Time{}
		t.st.StepStartedAt = t.st.StepStartedAt.Add(lost)
		t.st.Message = fmt.Sprintf("%s is ready again after %s; the release continues %s", rev, lost.Round(time.Millisecond), t.where())
		if t.st.Phase == v1alpha1.PhasePaused {
			t.st.Message += fmt.Sprintf(", still paused (%s)", t.st.PausedBy)
		}
		t.event(EventReady, "%s", t.st.Message)
	}
}

// unavailable: the canary, or its baseline copy, serves nothing now.
func unavailable(st v1alpha1.RolloutStatus, obs Observations) bool {
	if obs.Versions[VersionKey(st.CanaryRevision, false)].Unavailable {
		return true
	}
	return st.Baseline && obs.Versions[VersionKey(st.StableRevision, true)].Unavailable
}

// notReadyReason says which copy is not ready and why, as far as known.
func notReadyReason(st v1alpha1.RolloutStatus, obs Observations) string {
	what, key := "canary "+st.CanaryRevision, VersionKey(st.CanaryRevision, false)
	if st.Baseline && !obs.Versions[key].Unavailable {
		what, key = "baseline copy "+VersionKey(st.StableRevision, true), VersionKey(st.StableRevision, true)
	}
	v, seen := obs.Versions[key]
	switch {
	case !seen:
		return what + " is not running"
	case v.Reason != "":
		return what + " is not ready: " + v.Reason
	}
	return what + " is not ready (starting or restarting)"
}

// notReadyAgain refuses promote while a canary that was ready is not.
func (t *tx) notReadyAgain() error {
	return &Refusal{Reason: fmt.Sprintf("%s has not been ready since %s (%s); promote applies once it is ready again, promote --full gives it all traffic as soon as it is",
		t.st.CanaryRevision, t.st.ReadyLostAt.UTC().Format(time.TimeOnly), t.st.Message)}
}

// stableHealth keeps the phase and the Ready condition true to whether the
// stable revision serves. From Healthy or Aborted a stable observed Failed
// (its command cannot start, its readiness probe never answered, it
// crashed too often) makes the phase Degraded; it is restarted with backoff
// until it is ready, which makes the phase Healthy again. During a release
// only the condition follows: the release's own rules decide its phase.
//
// The condition is written only when its status changes (or with a retry,
// itself a change of the status): in a cluster the controller writes the
// conditions from the same observations, and a condition rewritten on
// every pass would be a new status on every pass.
func (t *tx) stableHealth(obs Observations) {
	rev := t.st.StableRevision
	v := obs.Versions[VersionKey(rev, false)]
	degraded := t.st.Phase == v1alpha1.PhaseDegraded
	switch {
	case v.Ready:
		if t.readyIs(v1alpha1.ConditionTrue) {
			return
		}
		t.setReady(v1alpha1.ConditionTrue, v1alpha1.ReasonStableReady, "the stable revision serves")
		if !degraded {
			return
		}
		n := t.st.StableRetries
		t.st.Phase, t.st.StableRetries, t.st.StableRetryAt = v1alpha1.PhaseHealthy, 0, time.Time{}
		t.st.Message = fmt.Sprintf("%s serves all traffic again after %d restart(s)", rev, n)
		t.event(EventRecovered, "stable revision %s", t.st.Message)
	case degraded && !t.st.StableRetryAt.IsZero() && !t.now.Before(t.st.StableRetryAt):
		t.st.StableRetries++
		t.st.StableRetryAt = time.Time{}
		t.acts = append(t.acts, Action{Kind: ActRestartVersion, Revision: rev})
		t.st.Message = fmt.Sprintf("%s; starting it again (attempt %d)", t.notServing(), t.st.StableRetries)
	case degraded && t.st.StableRetryAt.IsZero() && v.Failed:
		d := stableRetryDelay(t.st.StableRetries)
		t.st.StableRetryAt = t.now.Add(d)
		t.setReady(v1alpha1.ConditionFalse, v1alpha1.ReasonStableNotServing, notServing(rev, v.Reason))
		t.st.Message = fmt.Sprintf("%s; attempt %d failed, next at %s", notServing(rev, v.Reason), t.st.StableRetries, t.clock(d))
	case !degraded && v.Failed && (t.st.Phase == v1alpha1.PhaseHealthy || t.st.Phase == v1alpha1.PhaseAborted):
		d := stableRetryDelay(0)
		t.st.Phase, t.st.StableRetries, t.st.StableRetryAt = v1alpha1.PhaseDegraded, 0, t.now.Add(d)
		t.setReady(v1alpha1.ConditionFalse, v1alpha1.ReasonStableNotServing, notServing(rev, v.Reason))
		t.st.Message = fmt.Sprintf("%s; starting it again at %s", notServing(rev, v.Reason), t.clock(d))
		t.event(EventDegraded, "%s", t.st.Message)
	case v.Failed && !t.readyIs(v1alpha1.ConditionFalse):
		t.setReady(v1alpha1.ConditionFalse, v1alpha1.ReasonStableNotServing, notServing(rev, v.Reason))
	}
}

func notServing(rev, reason string) string {
	return fmt.Sprintf("stable revision %s does not serve: %s", rev, orUnknown(reason))
}

// readyIs reports whether the Ready condition has this status.
func (t *tx) readyIs(s v1alpha1.ConditionStatus) bool {
	c := v1alpha1.FindCondition(t.st.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == s
}

// setReady sets the Ready condition.
func (t *tx) setReady(status v1alpha1.ConditionStatus, reason, msg string) {
	t.st.Conditions = v1alpha1.SetCondition(t.st.Conditions, v1alpha1.Condition{
		Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg}, t.now)
}

// notServing is the Ready condition's message while it is False.
func (t *tx) notServing() string {
	if c := v1alpha1.FindCondition(t.st.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == v1alpha1.ConditionFalse {
		return c.Message
	}
	return notServing(t.st.StableRevision, "")
}
