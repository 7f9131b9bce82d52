package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func notReady(key string) func(*sim) {
	return func(s *sim) { s.notReady[key] = true; s.tick(time.Second) }
}

func readyAgain(key string) func(*sim) {
	return func(s *sim) { delete(s.notReady, key); s.tick(time.Second) }
}

// refused runs a command that must be refused (and so change nothing).
func refused(c Command, why string) func(*sim) {
	return func(s *sim) {
		s.t.Helper()
		err := s.apply(c)
		if err == nil || IsNoOp(err) || !strings.Contains(err.Error(), why) {
			s.t.Fatalf("%s: %v, want a refusal saying %q", c.Kind, err, why)
		}
	}
}

// A canary that was ready and is not any more (the data plane is down, or
// its process is being restarted) holds the release where it is: no step,
// no timer, no promote, until it is ready again; then the timed pause
// continues with the time it had left.
func TestNotReadyHoldsTheRelease(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second) // ready: 0.1 %, then the 10 s pause (step 2) starts
	walk(t, s, []step{
		{name: "4 s into the pause", do: tick(4 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "lost", do: func(s *sim) { s.notReady["v2"] = true; s.tick(0) }, phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventNotReady}, textHas: "the release waits at step 2/8"},
		{name: "an hour down", do: tick(time.Hour), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "promote refused", do: refused(promote, "promote applies once it is ready again"), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "back", do: readyAgain("v2"), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventReady}, textHas: "ready again after 1h0m1s"},
		{name: "5 s of the 6 s left", do: tick(5 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "pause done", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 3, canaryPPM: 10000, stable: "v1",
			events: []string{EventStepReached, EventStepReached}},
	})
	if !s.st.CanaryReady || !s.st.ReadyLostAt.IsZero() {
		t.Fatalf("after the canary is back: ready %v, lost at %v", s.st.CanaryReady, s.st.ReadyLostAt)
	}
}

// While the canary is not ready the status says so (CanaryReady false,
// ReadyLostAt) and the observed weights are unknown when the router cannot
// be read.
func TestNotReadyStatus(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.routerWeights = &v1alpha1.Weights{CanaryPPM: 1000}
	s.tick(time.Second)
	if s.st.ObservedWeights == nil || s.st.ObservedWeights.CanaryPPM != 1000 || !s.st.CanaryReady {
		t.Fatalf("ready at 0.1%%: observed %v ready %v", s.st.ObservedWeights, s.st.CanaryReady)
	}
	s.routerWeights = nil
	s.notReady["v2"] = true
	s.tick(time.Second)
	if s.st.ObservedWeights != nil || s.st.CanaryReady || !s.st.ReadyLostAt.Equal(s.now) {
		t.Fatalf("down: observed %v ready %v lost at %v", s.st.ObservedWeights, s.st.CanaryReady, s.st.ReadyLostAt)
	}
}

// Paused at a step waiting for promote when the canary is lost: promote is
// refused, promote --full waits for readiness and then finishes.
func TestNotReadyWhilePausedForPromote(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second)
	s.tick(10 * time.Second)
	s.tick(10 * time.Second) // step 6/8: pause until promote at 10 %
	walk(t, s, []step{
		{name: "lost while paused", do: notReady("v2"), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 5, canaryPPM: 100000, stable: "v1",
			events: []string{EventNotReady}},
		{name: "promote refused", do: refused(promote, "has not been ready since"), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 5, canaryPPM: 100000, stable: "v1", noChange: true},
		{name: "promote --full waits", do: do(full), phase: v1alpha1.PhaseProgressing, stepIndex: 5, canaryPPM: 100000, stable: "v1",
			events: []string{EventPromoted}},
		{name: "still down", do: tick(time.Minute), phase: v1alpha1.PhaseProgressing, stepIndex: 5, canaryPPM: 100000, stable: "v1", noChange: true},
		{name: "back: finished", do: readyAgain("v2"), phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v2",
			events: []string{EventReady, EventFinished}},
	})
}

// A lost baseline copy holds the release like a lost canary.
func TestNotReadyBaselineHolds(t *testing.T) {
	s := newSim(t, load(t, canaryYAML, "%BASELINE%", "true"))
	s.must(start("v2"))
	s.tick(time.Second)
	walk(t, s, []step{
		{name: "baseline lost", do: notReady("v1+baseline"), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventNotReady}, textHas: "v1+baseline"},
		{name: "timer frozen", do: tick(time.Hour), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
	})
}

// Events the edges noticed are recorded first, with their own transition.
func TestObservedEventsAreRecorded(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	walk(t, s, []step{
		{name: "noted with a transition", do: func(s *sim) {
			s.notes = []Event{{Type: EventDataPlaneLost, Message: "the data plane stopped answering"}}
			s.notReady["v2"] = true
			s.tick(time.Second)
		}, phase: v1alpha1.PhaseProgressing, stable: "v1", events: []string{EventDataPlaneLost}, textHas: "stopped answering"},
		{name: "noted alone", do: func(s *sim) {
			s.notes = []Event{{Type: EventRestarted, Message: "canary v2 crashed and was restarted"}}
			s.tick(time.Second)
		}, phase: v1alpha1.PhaseProgressing, stable: "v1", events: []string{EventRestarted}},
		{name: "once", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
	})
}

// A stable revision that never runs is Degraded, not Healthy, with a
// condition that says why; it is started again after 1 s, 2 s, 4 s, ...
// (at most a minute), and Healthy again once it serves.
func TestStableThatNeverRunsIsDegraded(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	if c := v1alpha1.FindCondition(s.st.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != v1alpha1.ConditionTrue {
		t.Fatalf("a ready stable: Ready condition %+v", c)
	}
	const why = `command: exec: "nope": executable file not found in $PATH`
	s.failed["v1"] = why
	walk(t, s, []step{
		{name: "failed", do: tick(time.Second), phase: v1alpha1.PhaseDegraded, stable: "v1", events: []string{EventDegraded}, textHas: why},
	})
	c := v1alpha1.FindCondition(s.st.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != v1alpha1.ConditionFalse || c.Reason != v1alpha1.ReasonStableNotServing || !strings.Contains(c.Message, why) || !c.LastTransitionTime.Equal(s.now) {
		t.Fatalf("Ready condition %+v", c)
	}
	for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		walk(t, s, []step{
			{name: "waits", do: tick(wait - time.Millisecond), phase: v1alpha1.PhaseDegraded, stable: "v1", noChange: true},
		})
		before := s.restarts
		walk(t, s, []step{
			{name: "restarts", do: tick(time.Millisecond), phase: v1alpha1.PhaseDegraded, stable: "v1", textHas: ""},
		})
		if s.restarts != before+1 || s.st.StableRetries != attempt+1 {
			t.Fatalf("attempt %d: restarts %d, retries %d", attempt+1, s.restarts, s.st.StableRetries)
		}
		s.failed["v1"] = why // it fails again
		walk(t, s, []step{
			{name: "failed again", do: tick(0), phase: v1alpha1.PhaseDegraded, stable: "v1"},
		})
		if !strings.Contains(s.st.Message, "attempt") {
			t.Fatalf("message %q", s.st.Message)
		}
	}
	// The platform reports it ready (its last attempt came up after all).
	delete(s.failed, "v1")
	walk(t, s, []step{
		{name: "recovered", do: tick(time.Second), phase: v1alpha1.PhaseHealthy, stable: "v1", events: []string{EventRecovered}, textHas: "after 8 restart(s)"},
	})
	if c := v1alpha1.FindCondition(s.st.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != v1alpha1.ConditionTrue || s.st.StableRetries != 0 {
		t.Fatalf("recovered: condition %+v retries %d", c, s.st.StableRetries)
	}
}

// A stable that fails during a release leaves the release's phase alone;
// only the Ready condition says so. Aborted with a failed stable is
// Degraded.
func TestStableFailureDuringARelease(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second)
	s.failed["v1"] = "crashed 3 times within 1m0s"
	walk(t, s, []step{
		{name: "condition only", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1"},
		{name: "abort", do: do(abort), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAborted}},
		{name: "degraded", do: tick(time.Second), phase: v1alpha1.PhaseDegraded, stable: "v1", events: []string{EventDegraded}},
	})
	if c := v1alpha1.FindCondition(s.st.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != v1alpha1.ConditionFalse {
		t.Fatalf("condition %+v", c)
	}
}

// A canary that serves with part of its instances (a Deployment scaling
// up: not Ready, not Unavailable) does not hold a release that runs.
func TestPartlyServingCanaryDoesNotHold(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second)
	st, acts := Reconcile(s.r, s.st, Observations{Versions: map[string]VersionState{
		"v1": {Ready: true}, "v2": {Reason: "2 of 3 replicas ready"},
	}, RouterWeights: &s.st.Weights}, s.now.Add(10*time.Second))
	if !st.CanaryReady || st.StepIndex != 3 || len(acts) == 0 {
		t.Fatalf("a partly serving canary held the release: ready %v step %d (%s)", st.CanaryReady, st.StepIndex, st.Message)
	}
}

// Blue/green waiting for promotion: a green that serves nothing any more
// cannot be switched to until it is back.
func TestNotReadyGreenIsNotSwitchedTo(t *testing.T) {
	s := newSim(t, load(t, blueGreenYAML))
	s.must(start("v2"))
	s.tick(time.Second) // green ready: waiting for promotion (stage 1)
	walk(t, s, []step{
		{name: "green lost", do: notReady("v2"), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: 1, stable: "v1", events: []string{EventNotReady}},
		{name: "promote refused", do: refused(promote, "has not been ready since"), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: 1, stable: "v1", noChange: true},
		{name: "green back", do: readyAgain("v2"), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: 1, stable: "v1", events: []string{EventReady}, textHas: "still paused (promotion)"},
		{name: "switch", do: do(promote), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventPromoted, EventFinished}},
	})
}
