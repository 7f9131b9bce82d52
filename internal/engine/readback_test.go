package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// A router that reads the weights back two ticks late: no step is taken
// and the pause's clock does not start until it does.
func TestReadBackLagDelaysTheNextStep(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.readBackLag = 2
	s.must(start("v2"))
	var arrived time.Time
	walk(t, s, []step{
		{name: "ready: 0.1% set, not read back", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventReady, EventStepReached}, textHas: "step 1/8: setWeight 0.1%"},
		{name: "still the old weights", do: tick(time.Minute), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "still the old weights, later", do: tick(time.Minute), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "read back: the pause starts now", do: func(s *sim) { s.tick(time.Minute); arrived = s.now }, phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventStepReached}, textHas: "step 2/8: pause 10s"},
		{name: "pause counts from the read-back", do: tick(9 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "pause elapsed: 1% set, waiting again", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 3, canaryPPM: 10000, stable: "v1",
			events: []string{EventStepReached}, textHas: "step 3/8: setWeight 1%"},
	})
	if !s.st.StepStartedAt.Equal(arrived.Add(10*time.Second)) || !strings.Contains(s.st.Message, "waiting for traffic read-back: observed 0.1%, want 1%") {
		t.Fatalf("step started %v (read back at %v), message %q", s.st.StepStartedAt, arrived, s.st.Message)
	}
}

// A router that never reads the weights back holds the release where it is
// for good; abort still takes the canary out at once, weights first.
func TestNoReadBackHoldsButAbortWorks(t *testing.T) {
	s := newSim(t, load(t, canaryYAML, "%BASELINE%", "true"))
	s.noReadBack = true
	s.must(start("v2"))
	walk(t, s, []step{
		{name: "0.1% set", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventReady, EventStepReached}},
		{name: "an hour later: still waiting", do: tick(time.Hour), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "read-back lost: still waiting", do: func(s *sim) { s.routerWeights = nil; s.tick(time.Hour) }, phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1"},
		{name: "abort", do: do(abort), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAborted}},
	})
	if !strings.Contains(s.st.Message, "aborted at step 2/8") {
		t.Fatalf("message %q", s.st.Message)
	}
	// The sim refuses a StopVersion of a copy still routed, so the order
	// is checked; here it is made explicit.
	if k := s.last[0].Kind; k != ActSetTraffic || s.last[0].Traffic.CanaryRevision != "" {
		t.Fatalf("abort acts %+v first", s.last[0])
	}
	if s.running["v2"] || s.running[VersionKey("v1", true)] {
		t.Fatalf("canary or baseline still running: %v", s.running)
	}
}

// Blue/green's switch with a post-promotion analysis: the analysis window
// starts when the router serves green at 100 %, not at the switch.
func TestReadBackLagDelaysThePostPromotionAnalysis(t *testing.T) {
	s := newSim(t, load(t, blueGreenAnalysisYAML, "%AUTO%", "false"))
	s.must(start("v2"))
	s.tick(time.Second)
	s.stepVerdict = &AnalysisResult{Kind: AnalysisPrePromotion, Revision: "v2", Step: -1, Verdict: VerdictPass, CanaryRequests: 10, Summary: "pre Pass"}
	s.tick(30 * time.Second)
	if s.st.PausedBy != PausedByPromotion {
		t.Fatalf("not waiting for promote: %+v", s.st)
	}
	s.readBackLag = 1
	const all = v1alpha1.PPM
	walk(t, s, []step{
		{name: "switch set", do: do(promote), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1",
			events: []string{EventPromoted, EventSwitched}},
		{name: "not read back: a Pass is not judged", do: then(bgVerdict(AnalysisPostPromotion, VerdictPass), tick(2*time.Minute)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1"},
		{name: "read back: the window starts now", do: tick(time.Minute), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1"},
		{name: "window not over", do: tick(59 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", noChange: true},
		{name: "window over: finished", do: tick(time.Second), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventAnalysisPassed, EventFinished}},
	})
}

// An approximate provider (whole pods) never reads back the exact weights:
// the release does not wait for them, as before read-back; a step entered
// by promote, which cannot know the provider, starts on the next tick.
func TestApproximateReadBackDoesNotHold(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.noReadBack, s.approximate = true, true
	s.routerWeights = &v1alpha1.Weights{CanaryPPM: 333333} // 1 pod of 3
	s.must(start("v2"))
	walk(t, s, []step{
		{name: "ready: 0.1% then timed pause", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventReady, EventStepReached, EventStepReached}},
		{name: "pause elapsed: 1%, pause", do: tick(10 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 3, canaryPPM: 10000, stable: "v1",
			events: []string{EventStepReached, EventStepReached}},
		{name: "10% then pause for promote", do: tick(10 * time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 5, canaryPPM: 100000, stable: "v1",
			events: []string{EventStepReached, EventStepReached, EventPaused}},
		{name: "promote: 50% set", do: do(promote), phase: v1alpha1.PhaseProgressing, stepIndex: 7, canaryPPM: 500000, stable: "v1",
			events: []string{EventPromoted, EventStepReached}},
		{name: "next tick: the pause starts", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 7, canaryPPM: 500000, stable: "v1",
			events: []string{EventStepReached}, textHas: "step 8/8: pause 10s"},
		{name: "finished", do: tick(10 * time.Second), phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v2", events: []string{EventFinished}},
	})
}
