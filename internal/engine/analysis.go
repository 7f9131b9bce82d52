package engine

import (
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Analysis kinds: which analysis of a release a verdict is about.
const (
	AnalysisStep          = "step"          // a canary analysis step
	AnalysisBackground    = "background"    // the canary strategy's background analysis
	AnalysisPrePromotion  = "prePromotion"  // blue/green, before the switch
	AnalysisPostPromotion = "postPromotion" // blue/green, after the switch
)

// Blue/green stages, kept in RolloutStatus.StepIndex.
const (
	bgPreAnalysis  = 0 // green ready; the pre-promotion analysis judges it
	bgAwaitSwitch  = 1 // the switch waits for auto-promotion or promote
	bgPostAnalysis = 2 // switched; the post-promotion analysis judges green
)

// AnalysisRef names one analysis that a release's state calls for now.
type AnalysisRef struct {
	// Kind is one of the Analysis* kinds; Step the canary step's index for
	// AnalysisStep, else -1.
	Kind string
	Step int
	// Revision is the canary (green) revision judged.
	Revision string
	// Metrics select the metric definitions (RolloutSpec.Resolve).
	Metrics []v1alpha1.MetricRef
	// Settings are the stage analysis's duration, minSamples and timeout;
	// nil for the background analysis, which runs as long as the release.
	Settings *v1alpha1.AnalysisStep
	// Key identifies one run: the same analysis of the same release has
	// the same key (across restarts and a user's pause), any other a new one.
	Key string
}

// Analyses returns the analyses that should be collecting and judging in
// this state: the background analysis first, then the current stage's (a
// canary analysis step, or blue/green's pre- or post-promotion analysis).
// An analysis that ended Inconclusive and waits for a human is not running.
func Analyses(r v1alpha1.Rollout, st v1alpha1.RolloutStatus) []AnalysisRef {
	if !inRelease(st) || !st.CanaryReady || st.CanaryRevision == "" {
		return nil
	}
	ref := func(kind string, step int, refs []v1alpha1.MetricRef, a *v1alpha1.AnalysisStep) AnalysisRef {
		return AnalysisRef{Kind: kind, Step: step, Revision: st.CanaryRevision, Metrics: refs, Settings: a,
			Key: fmt.Sprintf("%s|%s|%d|%d", kind, st.CanaryRevision, st.StartedAt.UnixNano(), step)}
	}
	var out []AnalysisRef
	if c := r.Spec.Strategy.Canary; c != nil && c.Analysis != nil {
		out = append(out, ref(AnalysisBackground, -1, c.Analysis.Metrics, nil))
	}
	if st.PausedBy == PausedByInconclusive {
		return out
	}
	if a, kind := stageAnalysis(r, st); a != nil {
		step := -1
		if kind == AnalysisStep {
			step = st.StepIndex
		}
		out = append(out, ref(kind, step, a.Metrics, a))
	}
	return out
}

// stageAnalysis is the analysis of the release's current stage and its
// kind, or nil.
func stageAnalysis(r v1alpha1.Rollout, st v1alpha1.RolloutStatus) (*v1alpha1.AnalysisStep, string) {
	if c := r.Spec.Strategy.Canary; c != nil {
		if st.StepIndex < len(c.Steps) && c.Steps[st.StepIndex].Analysis != nil {
			return c.Steps[st.StepIndex].Analysis, AnalysisStep
		}
		return nil, ""
	}
	bg := r.Spec.Strategy.BlueGreen
	switch {
	case bg == nil:
	case st.StepIndex == bgPreAnalysis && bg.PrePromotionAnalysis != nil:
		return bg.PrePromotionAnalysis, AnalysisPrePromotion
	case st.StepIndex == bgPostAnalysis && bg.PostPromotionAnalysis != nil:
		return bg.PostPromotionAnalysis, AnalysisPostPromotion
	}
	return nil, ""
}

// kind is the result's analysis kind; an empty Kind means a canary step's
// (or the background's, for Step -1), as callers wrote before kinds existed.
func (v *AnalysisResult) kind() string {
	switch {
	case v.Kind != "":
		return v.Kind
	case v.Step == -1:
		return AnalysisBackground
	}
	return AnalysisStep
}

// stageVerdict returns v if it is about the current stage's analysis of
// this release (kind, step and revision), else nil.
func (t *tx) stageVerdict(v *AnalysisResult) *AnalysisResult {
	_, kind := stageAnalysis(t.r, t.st)
	if v == nil || kind == "" || v.kind() != kind || v.Revision != t.st.CanaryRevision {
		return nil
	}
	if kind == AnalysisStep && v.Step != t.st.StepIndex {
		return nil
	}
	return v
}

// analysisFailure returns the failing verdict that must abort the release,
// or nil: the background analysis's, or the current stage's while it runs
// (not once it ended inconclusive and waits for a human).
func (t *tx) analysisFailure(obs Observations) *AnalysisResult {
	if !t.st.CanaryReady {
		return nil
	}
	c := t.canary()
	if b := obs.BackgroundAnalysis; c != nil && c.Analysis != nil && b != nil && b.kind() == AnalysisBackground &&
		b.Revision == t.st.CanaryRevision && b.Verdict == VerdictFail {
		return b
	}
	if s := t.stageVerdict(obs.StepAnalysis); s != nil && t.st.PausedBy != PausedByInconclusive && s.Verdict == VerdictFail {
		return s
	}
	return nil
}

// analysisOutcome is what a stage's analysis decides at a tick.
type analysisOutcome int

const (
	keepJudging analysisOutcome = iota
	analysisPassed
	analysisInconclusive
)

// judgeStage decides whether the current stage's analysis a ends now. Before
// its duration it keeps judging. After it, a verdict with enough samples
// ends it: Pass passes, Inconclusive is inconclusive (a Fail never gets
// here: Reconcile aborts first). Short of samples (fewer canary requests
// than minSamples, a metric still waiting for data, or no verdict at all)
// it keeps collecting until its timeout, then ends Inconclusive with the
// counts it saw. why is the line for the event.
func (t *tx) judgeStage(a v1alpha1.AnalysisStep, obs *AnalysisResult) (analysisOutcome, string) {
	elapsed := t.now.Sub(t.st.StepStartedAt)
	if elapsed < a.Duration.D() {
		return keepJudging, ""
	}
	v := t.stageVerdict(obs)
	short := v == nil || v.CanaryRequests < int64(a.MinSamples) || v.NeedsData
	switch {
	case !short && v.Verdict == VerdictPass:
		return analysisPassed, v.Summary
	case !short && v.Verdict == VerdictInconclusive:
		return analysisInconclusive, v.Summary
	case !short || elapsed < a.EffectiveTimeout():
		return keepJudging, ""
	}
	timeout := a.EffectiveTimeout().Round(time.Second)
	if v == nil {
		return analysisInconclusive, fmt.Sprintf("timed out after %s without a verdict", timeout)
	}
	why := fmt.Sprintf("timed out after %s with %d canary requests", timeout, v.CanaryRequests)
	if a.MinSamples > 0 {
		why += fmt.Sprintf(" of the %d required", a.MinSamples)
	}
	return analysisInconclusive, why + ": " + v.Summary
}

// pauseInconclusive pauses the release for a human after the analysis
// named by label ended without a verdict.
func (t *tx) pauseInconclusive(label, why string) {
	t.st.Phase, t.st.PausedBy = v1alpha1.PhasePaused, PausedByInconclusive
	t.st.Message = fmt.Sprintf("%s inconclusive: %s; promote to continue, abort to roll back", label, why)
	t.event(EventAnalysisInconclusive, "%s", t.st.Message)
}

// judgingMessage is the status line of a stage whose analysis runs.
func (t *tx) judgingMessage(label string, a v1alpha1.AnalysisStep) string {
	msg := fmt.Sprintf("%s; judging until %s", label, t.clock(a.Duration.D()))
	if a.MinSamples > 0 {
		msg += fmt.Sprintf(" and %d canary requests", a.MinSamples)
	}
	return msg
}
