package engine

import (
	"fmt"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// A step's weights count only once the router reads them back: after a
// SetTraffic that changed the weights, no further step is taken and the
// next step's clock (a pause's duration, an analysis window, StepStartedAt)
// does not start until obs.RouterWeights equal status.Weights. Unknown
// (nil) or different read-back is waiting. Aborts and stops never wait:
// their SetTraffic is followed by the stops at once, as before.
//
// Whether a release waits is derived from the status alone: the weights
// it wants (Weights) against those last read back (ObservedWeights). The
// tick on which the read-back first matches starts the current step
// afresh, with its clock at that tick.

// readBack reports whether the router serves the weights the status wants
// (always, for an approximate provider's: nothing to wait for).
func (t *tx) readBack() bool {
	return t.approximate || t.st.ObservedWeights != nil && *t.st.ObservedWeights == t.st.Weights
}

// awaitReadBack holds the release while the router has not read back the
// weights, saying so in the message.
func (t *tx) awaitReadBack() {
	observed := "nothing"
	if w := t.st.ObservedWeights; w != nil {
		observed = w.CanaryPPM.String()
	}
	t.st.Message = fmt.Sprintf("%s; "+waitingText+": observed %s, want %s",
		t.waitingFor(), observed, t.st.Weights.CanaryPPM.String())
}

// waitingFor names what waits for the read-back, for the message.
func (t *tx) waitingFor() string {
	if c := t.canary(); c != nil {
		return t.stepLabel(c.Steps)
	}
	return fmt.Sprintf("switched all traffic to %s", t.st.CanaryRevision)
}

// readBackArrived starts the current stage now that its weights are read
// back: the canary's current step is entered afresh (its clock starts
// now); blue/green's post-promotion analysis starts judging now.
func (t *tx) readBackArrived() {
	t.st.StepStartedAt = t.now
	if t.canary() != nil {
		t.enterSteps()
		return
	}
	if bg := t.r.Spec.Strategy.BlueGreen; bg != nil && bg.PostPromotionAnalysis != nil && t.st.StepIndex == bgPostAnalysis {
		t.st.Message = t.judgingMessage(fmt.Sprintf("switched all traffic to %s, %s kept warm: post-promotion analysis", t.st.CanaryRevision, t.st.StableRevision), *bg.PostPromotionAnalysis)
	}
}

// pending reports whether st waited for a read-back, from the weights it
// wanted and those it last observed.
func pending(st v1alpha1.RolloutStatus) bool {
	return st.ObservedWeights == nil || *st.ObservedWeights != st.Weights
}

// WaitsForReadBack reports (for a provider that is not Approximate) whether a release waits for the router to read
// back its weights: a caller whose router applies a SetTraffic at once (one
// machine) reconciles again right away, so the next step starts with no
// tick in between.
func WaitsForReadBack(st v1alpha1.RolloutStatus) bool {
	return st.Phase == v1alpha1.PhaseProgressing && st.CanaryReady && st.CanaryRevision != "" && pending(st)
}

// waitingText marks the message of a release that waits for a read-back.
const waitingText = "waiting for traffic read-back"

// wasPending reports whether st, the status before this tick, waited for a
// read-back. An approximate provider's read-back never equals the weights,
// so there the message says it: a step entered by a command (promote),
// which cannot know the provider, waited for one.
func wasPending(st v1alpha1.RolloutStatus, approximate bool) bool {
	if approximate {
		return strings.Contains(st.Message, waitingText)
	}
	return pending(st)
}
