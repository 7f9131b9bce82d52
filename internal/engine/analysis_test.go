package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const analysisYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  analysis:
    metrics:
      - {name: errors, kind: errorRate, provider: {router: {}}}
  strategy:
    canary:
      baseline: true
      analysis: {metrics: [errors]}
      steps:
        - setWeight: 5
        - analysis: {duration: 1m, minSamples: 100}
        - setWeight: 50
        - pause: {}
`

// verdict sets what the analysis of step idx (-1 = background) reports.
func verdict(step int, v string, n int64) func(*sim) {
	return func(s *sim) {
		r := &AnalysisResult{Revision: "v2", Step: step, Verdict: v, CanaryRequests: n, Summary: v + " with numbers"}
		if step < 0 {
			s.bgVerdict = r
		} else {
			s.stepVerdict = r
		}
	}
}

func then(fs ...func(*sim)) func(*sim) {
	return func(s *sim) {
		for _, f := range fs {
			f(s)
		}
	}
}

func startedAtAnalysis(t *testing.T) *sim {
	s := newSim(t, load(t, analysisYAML))
	s.must(start("v2"))
	s.tick(time.Second) // ready: 5 %, analysis step starts now
	if s.st.StepIndex != 1 || s.st.Weights.CanaryPPM != 50000 {
		t.Fatalf("not at the analysis step: %+v", s.st)
	}
	return s
}

func TestAnalysisStep(t *testing.T) {
	const w = 50000
	cases := []struct {
		name string
		rows []step
	}{
		{"pass waits for the duration, then moves on", []step{
			{name: "early pass is not enough", do: then(verdict(1, VerdictPass, 500), tick(59*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "duration elapsed", do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 3, canaryPPM: 500000, stable: "v1",
				events: []string{EventAnalysisPassed, EventStepReached, EventStepReached, EventPaused}, textHas: "Pass with numbers"},
		}},
		{"pass waits for min samples", []step{
			{name: "too few requests", do: then(verdict(1, VerdictPass, 99), tick(2*time.Minute)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "enough", do: then(verdict(1, VerdictPass, 100), tick(time.Second)), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 3, canaryPPM: 500000, stable: "v1",
				events: []string{EventAnalysisPassed, EventStepReached, EventStepReached, EventPaused}},
		}},
		{"no verdict yet keeps waiting until the timeout", []step{
			{name: "1m duration + 5m default", do: tick(6*time.Minute - time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "timed out", do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "timed out after 6m0s without a verdict"},
		}},
		{"a verdict about another step is ignored", []step{
			{do: then(verdict(0, VerdictFail, 500), tick(2*time.Minute)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
		}},
		{"fail aborts at once", []step{
			{do: then(verdict(1, VerdictFail, 30), tick(time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1",
				events: []string{EventAnalysisFailed, EventAborted}, textHas: "analysis failed: Fail with numbers"},
		}},
		{"inconclusive at the end pauses; promote continues", []step{
			{name: "still running", do: then(verdict(1, VerdictInconclusive, 500), tick(30*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "ends inconclusive", do: tick(30 * time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "promote to continue"},
			{name: "a later Fail of the ended step does nothing", do: then(verdict(1, VerdictFail, 600), tick(time.Second)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "promote", do: do(promote), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 3, canaryPPM: 500000, stable: "v1",
				events: []string{EventPromoted, EventStepReached, EventStepReached, EventPaused}},
		}},
		{"inconclusive then abort", []step{
			{do: then(verdict(1, VerdictInconclusive, 500), tick(time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventAnalysisInconclusive}},
			{do: do(abort), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAborted}},
		}},
		{"a user's pause freezes the clock but a Fail still aborts", []step{
			{do: then(tick(50*time.Second), do(pause)), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventPaused}},
			{name: "pass while paused waits", do: then(verdict(1, VerdictPass, 500), tick(time.Hour)), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{do: do(resume), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventResumed}},
			{name: "9s of 10s left", do: tick(9 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{do: do(pause), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventPaused}},
			{do: then(verdict(1, VerdictFail, 500), tick(time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAnalysisFailed, EventAborted}},
		}},
		{"background fail aborts in any phase", []step{
			{do: then(verdict(1, VerdictInconclusive, 500), tick(time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventAnalysisInconclusive}},
			{name: "background inconclusive changes nothing", do: then(verdict(-1, VerdictInconclusive, 500), tick(time.Second)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{do: then(verdict(-1, VerdictFail, 500), tick(time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAnalysisFailed, EventAborted}, textHas: "analysis failed"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			walk(t, startedAtAnalysis(t), c.rows)
		})
	}
}

// A background Fail of a canary that is not ready yet, or of another
// revision, is not this release's verdict.
func TestBackgroundVerdictOfOthersIgnored(t *testing.T) {
	s := newSim(t, load(t, analysisYAML))
	s.must(start("v2"))
	s.notReady["v2"] = true
	walk(t, s, []step{
		{name: "not ready", do: then(verdict(-1, VerdictFail, 500), tick(time.Second)), phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
	})
	delete(s.notReady, "v2")
	s.bgVerdict = &AnalysisResult{Revision: "v9", Step: -1, Verdict: VerdictFail}
	walk(t, s, []step{
		{name: "other revision", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 50000, stable: "v1", events: []string{EventReady, EventStepReached, EventStepReached}},
	})
	// Stopping happens only after the weights went to 0 (sim checks).
	s.bgVerdict = &AnalysisResult{Revision: "v2", Step: -1, Verdict: VerdictFail, Summary: "errors 30% vs 1%"}
	s.tick(time.Second)
	if s.st.Phase != v1alpha1.PhaseAborted || s.running["v2"] || s.running[VersionKey("v1", true)] {
		t.Fatalf("not aborted cleanly: %+v running %v", s.st, s.running)
	}
}

// needsData is an Inconclusive verdict that more samples may decide.
func needsData(step int, n int64) func(*sim) {
	return func(s *sim) {
		s.stepVerdict = &AnalysisResult{Revision: "v2", Step: step, Verdict: VerdictInconclusive, CanaryRequests: n, NeedsData: true,
			Summary: "waiting for 100 requests per version"}
	}
}

// TestAnalysisTimeout: an analysis step short of samples keeps collecting
// past its duration and ends Inconclusive at its timeout, with the counts it
// saw, instead of waiting forever for traffic that never comes.
func TestAnalysisTimeout(t *testing.T) {
	const w = 50000
	yaml := strings.Replace(analysisYAML, "{duration: 1m, minSamples: 100}", "{duration: 1m, minSamples: 100, timeout: 3m}", 1)
	cases := []struct {
		name string
		rows []step
	}{
		{"too few canary requests: inconclusive at the timeout with the counts", []step{
			{name: "duration over, 40 of 100", do: then(verdict(1, VerdictPass, 40), tick(time.Minute)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "just before the timeout", do: tick(2*time.Minute - time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "timeout", do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "timed out after 3m0s with 40 canary requests of the 100 required: Pass with numbers"},
			{name: "promote continues", do: do(promote), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 3, canaryPPM: 500000, stable: "v1",
				events: []string{EventPromoted, EventStepReached, EventStepReached, EventPaused}},
		}},
		{"a metric waiting for data keeps the step open; its Pass ends it", []step{
			{name: "duration over, metric short", do: then(needsData(1, 500), tick(time.Minute)), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{name: "enough data: pass", do: then(verdict(1, VerdictPass, 900), tick(time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 3, canaryPPM: 500000, stable: "v1",
				events: []string{EventAnalysisPassed, EventStepReached, EventStepReached, EventPaused}},
		}},
		{"a metric waiting for data until the timeout", []step{
			{do: then(needsData(1, 500), tick(3*time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "with 500 canary requests of the 100 required: waiting for 100 requests per version"},
		}},
		{"inconclusive with enough data does not wait for the timeout", []step{
			{do: then(verdict(1, VerdictInconclusive, 500), tick(time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "Inconclusive with numbers"},
		}},
		{"a user's pause stops the timeout's clock", []step{
			{do: then(verdict(1, VerdictPass, 10), tick(2*time.Minute), do(pause)), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventPaused}},
			{do: tick(time.Hour), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{do: do(resume), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventResumed}},
			{name: "59s of 1m left", do: tick(59 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: w, stable: "v1", noChange: true},
			{do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: 1, canaryPPM: w, stable: "v1", events: []string{EventAnalysisInconclusive}, textHas: "with 10 canary requests"},
		}},
		{"a Fail short of samples still aborts at once", []step{
			{do: then(verdict(1, VerdictFail, 7), tick(time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAnalysisFailed, EventAborted}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, load(t, yaml))
			s.must(start("v2"))
			s.tick(time.Second)
			walk(t, s, c.rows)
		})
	}
}

// TestAnalysesNamesTheRunningOnes: the control plane starts, keeps and ends
// analysis runs by what Analyses returns, so its keys must survive a user's
// pause and change with the step and the release.
func TestAnalysesNamesTheRunningOnes(t *testing.T) {
	s := startedAtAnalysis(t)
	refs := Analyses(s.r, s.st)
	if len(refs) != 2 || refs[0].Kind != AnalysisBackground || refs[1].Kind != AnalysisStep || refs[1].Step != 1 || refs[1].Revision != "v2" {
		t.Fatalf("at the analysis step: %+v", refs)
	}
	s.tick(10 * time.Second)
	s.must(pause)
	s.tick(time.Minute)
	s.must(resume)
	if again := Analyses(s.r, s.st); len(again) != 2 || again[1].Key != refs[1].Key || again[0].Key != refs[0].Key {
		t.Fatalf("a pause and resume changed the runs: %+v -> %+v", refs, again)
	}
	verdict(1, VerdictInconclusive, 500)(s)
	s.tick(time.Minute)
	if got := Analyses(s.r, s.st); len(got) != 1 || got[0].Kind != AnalysisBackground {
		t.Fatalf("an inconclusive step still runs: %+v", got)
	}
	s.must(abort)
	if got := Analyses(s.r, s.st); got != nil {
		t.Fatalf("after the abort: %+v", got)
	}
}
