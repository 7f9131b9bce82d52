package run

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

func testSpec() v1alpha1.Rollout {
	return v1alpha1.Rollout{Metadata: v1alpha1.Metadata{Name: "web"}, Spec: v1alpha1.RolloutSpec{
		Analysis: &v1alpha1.AnalysisSpec{Metrics: []v1alpha1.MetricSpec{{
			Name: "errors", Kind: "errorRate", Critical: true, MinSamples: 50,
			Provider: v1alpha1.MetricProvider{Router: &v1alpha1.RouterMetric{}},
		}}},
		Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			Baseline: true,
			Analysis: &v1alpha1.BackgroundAnalysis{},
			Steps:    []v1alpha1.Step{{SetWeight: new(v1alpha1.Weight)}, {Analysis: &v1alpha1.AnalysisStep{}}},
		}},
	}}
}

// cluster is how the controller makes runs: router samples, a stage's
// run from the step's start.
var cluster = Options{RouterData: true, StageFromStepStart: true}

func status(step int, t0 time.Time) v1alpha1.RolloutStatus {
	return v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CanaryReady: true, CanaryRevision: "v2",
		StableRevision: "v1", StepIndex: step, StartedAt: t0, StepStartedAt: t0.Add(time.Duration(step) * time.Second)}
}

// TestState follows a release: the background run starts with the
// release, the step's run with its analysis step, a sample counts only
// in the runs that had begun when it finished, and leaving the step ends
// its run while keeping its report.
func TestState(t *testing.T) {
	sp, t0 := testSpec(), time.Unix(1_000_000, 0)
	var s State
	if got := s.Sync(sp, status(0, t0), cluster, t0); len(got) != 1 || got[0] != s.Background || s.Step != nil {
		t.Fatalf("at step 0: started %d, step run %v", len(got), s.Step)
	}
	canary, base := Role{"canary", "v2"}, Role{"baseline", "v1"}
	if r := Roles(sp, status(0, t0)); len(r) != 2 || r[0] != canary || r[1] != base {
		t.Fatalf("Roles: %v", r)
	}
	s.Add(canary, t0.Add(500*time.Millisecond), 200, time.Millisecond)

	t1 := t0.Add(time.Second)
	if got := s.Sync(sp, status(1, t0), cluster, t1.Add(300*time.Millisecond)); len(got) != 1 || got[0] != s.Step {
		t.Fatalf("at step 1: started %d", len(got))
	}
	if again := s.Sync(sp, status(1, t0), cluster, t1.Add(time.Second)); len(again) != 0 {
		t.Fatal("a second Sync with the same status started a run again")
	}
	if !s.Step.View().StartedAt.Equal(t1) {
		t.Fatalf("the step's run starts at %v, want the step's start %v", s.Step.View().StartedAt, t1)
	}
	if since, ok := s.Since("canary"); !ok || !since.Equal(t0) {
		t.Fatalf("Since %v, want the background's start %v", since, t0)
	}
	// 60 canary requests, half errors; 60 good baseline requests.
	for i := range 60 {
		st := 200
		if i%2 == 0 {
			st = 500
		}
		s.Add(canary, t1.Add(time.Duration(i)*time.Millisecond), st, time.Millisecond)
		s.Add(base, t1.Add(time.Duration(i)*time.Millisecond), 200, time.Millisecond)
	}
	var obs engine.Observations
	s.Judge(context.Background(), sp, t1.Add(time.Second), &obs)
	if obs.StepAnalysis == nil || obs.StepAnalysis.Step != 1 || obs.StepAnalysis.CanaryRequests != 60 {
		t.Fatalf("step verdict %+v, want step 1 with 60 canary requests", obs.StepAnalysis)
	}
	if obs.BackgroundAnalysis == nil || obs.BackgroundAnalysis.Step != -1 || obs.BackgroundAnalysis.CanaryRequests != 61 {
		t.Fatalf("background verdict %+v, want 61 canary requests (one before the step began)", obs.BackgroundAnalysis)
	}
	if obs.StepAnalysis.Verdict != engine.VerdictFail || !strings.Contains(obs.StepAnalysis.Summary, "errors Fail") {
		t.Fatalf("50 %% errors against none: %s (%s)", obs.StepAnalysis.Verdict, obs.StepAnalysis.Summary)
	}

	st := status(1, t0)
	st.Phase = v1alpha1.PhaseAborted
	s.EndStale(sp, st)
	if s.Running() || len(s.Views()) != 2 || s.Views()[1].Report.Verdict.String() != engine.VerdictFail {
		t.Fatalf("after the abort: running %v, views %+v", s.Running(), s.Views())
	}
}

// TestNoRouterData: a caller that feeds no router samples (traffic not
// through kanaria's router) gets Inconclusive with the reason, never a
// pass on an empty window.
func TestNoRouterData(t *testing.T) {
	sp, t0 := testSpec(), time.Unix(1_000_000, 0)
	var s State
	s.Sync(sp, status(1, t0), Options{StageFromStepStart: true}, t0)
	var obs engine.Observations
	s.Judge(context.Background(), sp, t0.Add(time.Second), &obs)
	if obs.StepAnalysis == nil || obs.StepAnalysis.Verdict != engine.VerdictInconclusive || !strings.Contains(obs.StepAnalysis.Summary, "no router samples") {
		t.Fatalf("without router data: %+v", obs.StepAnalysis)
	}
}
