package engine

import (
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const blueGreenAnalysisYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  analysis:
    metrics:
      - {name: ok, kind: threshold, condition: "result < 0.01", provider: {web: {url: "http://127.0.0.1:1/m", jsonPath: "$.v"}}}
  strategy:
    blueGreen:
      autoPromotion: %AUTO%
      scaleDownDelay: 20s
      prePromotionAnalysis: {duration: 30s, timeout: 2m}
      postPromotionAnalysis: {duration: 1m}
`

// bgVerdict sets what the blue/green analysis of kind reports.
func bgVerdict(kind, v string) func(*sim) {
	return func(s *sim) {
		s.stepVerdict = &AnalysisResult{Kind: kind, Revision: "v2", Step: -1, Verdict: v, CanaryRequests: 10, Summary: kind + " " + v + " with numbers"}
	}
}

// TestBlueGreenAnalysis walks blue/green releases with Argo Rollouts'
// pre- and post-promotion analyses on a fake clock.
func TestBlueGreenAnalysis(t *testing.T) {
	const all = v1alpha1.PPM
	cases := []struct {
		name string
		auto bool
		rows []step
	}{
		{"pre passes, promote switches, post passes: green stable, blue warm", false, []step{
			{name: "pre judging", do: then(bgVerdict(AnalysisPrePromotion, VerdictPass), tick(29*time.Second)), phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
			{name: "promote refused while judging", do: func(s *sim) {
				if err := s.apply(promote); err == nil || IsNoOp(err) {
					s.t.Fatalf("promote during the pre-promotion analysis: %v", err)
				}
			}, phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
			{name: "pre passed: waits for promote", do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: bgAwaitSwitch, stable: "v1",
				events: []string{EventAnalysisPassed, EventPaused}, textHas: "pre-promotion analysis of v2: prePromotion Pass with numbers"},
			{name: "switch: green all traffic, blue still stable", do: do(promote), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1",
				events: []string{EventPromoted, EventSwitched}, textHas: "v1 kept warm"},
			{name: "post judging; a Pass before the duration is not enough", do: then(bgVerdict(AnalysisPostPromotion, VerdictPass), tick(59*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", noChange: true},
			{name: "post passed: finished", do: tick(time.Second), phase: v1alpha1.PhaseHealthy, stable: "v2",
				events: []string{EventAnalysisPassed, EventFinished}, textHas: "v1 kept warm for undo"},
			{name: "blue scaled down after its delay", do: tick(20 * time.Second), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventScaledDown}},
		}},
		{"pre fails: aborted, blue keeps all traffic, no switch", true, []step{
			{do: then(bgVerdict(AnalysisPrePromotion, VerdictFail), tick(5*time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1",
				events: []string{EventAnalysisFailed, EventAborted}, textHas: "before the switch"},
		}},
		{"pre inconclusive pauses; promote switches", false, []step{
			{do: then(bgVerdict(AnalysisPrePromotion, VerdictInconclusive), tick(30*time.Second)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "pre-promotion analysis of v2 inconclusive"},
			{do: do(promote), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", events: []string{EventPromoted, EventSwitched}},
		}},
		{"pre without any verdict: inconclusive at its timeout", true, []step{
			{do: tick(2*time.Minute - time.Second), phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
			{do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stable: "v1",
				events: []string{EventAnalysisInconclusive}, textHas: "timed out after 2m0s without a verdict"},
		}},
		{"auto: pre passes, switch after the delay, post fails: one swap back to blue", true, []step{
			{name: "pre passed, auto-promotion with no delay switches at once", do: then(bgVerdict(AnalysisPrePromotion, VerdictPass), tick(30*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1",
				events: []string{EventAnalysisPassed, EventSwitched}},
			{name: "a pre verdict no longer counts", do: then(bgVerdict(AnalysisPrePromotion, VerdictFail), tick(time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", noChange: true},
			{name: "post fails", do: then(bgVerdict(AnalysisPostPromotion, VerdictFail), tick(time.Second)), phase: v1alpha1.PhaseAborted, stable: "v1",
				events: []string{EventAnalysisFailed, EventAborted}, textHas: "after the switch"},
		}},
		{"post inconclusive pauses; promote makes green stable", true, []step{
			{do: then(bgVerdict(AnalysisPrePromotion, VerdictPass), tick(30*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", events: []string{EventAnalysisPassed, EventSwitched}},
			{do: then(bgVerdict(AnalysisPostPromotion, VerdictInconclusive), tick(time.Minute)), phase: v1alpha1.PhasePaused, pausedBy: PausedByInconclusive, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", events: []string{EventAnalysisInconclusive}},
			{do: do(promote), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventPromoted, EventFinished}},
		}},
		{"abort after the switch swaps back", true, []step{
			{do: then(bgVerdict(AnalysisPrePromotion, VerdictPass), tick(30*time.Second)), phase: v1alpha1.PhaseProgressing, stepIndex: bgPostAnalysis, canaryPPM: all, stable: "v1", events: []string{EventAnalysisPassed, EventSwitched}},
			{do: do(abort), phase: v1alpha1.PhaseAborted, stable: "v1", events: []string{EventAborted}, textHas: "after the switch"},
		}},
		{"promote --full skips both analyses", false, []step{
			{do: do(full), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventPromoted, EventFinished}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auto := "false"
			if c.auto {
				auto = "true"
			}
			s := newSim(t, load(t, blueGreenAnalysisYAML, "%AUTO%", auto))
			s.must(start("v2"))
			walk(t, s, []step{{name: "green ready: pre-promotion analysis", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stable: "v1",
				events: []string{EventReady}}})
			walk(t, s, c.rows)
			if s.st.Phase == v1alpha1.PhaseAborted && (s.running["v2"] || s.routed.StableRevision != "v1" || s.routed.CanaryRevision != "") {
				t.Fatalf("aborted, but running %v, routed %+v", s.running, s.routed)
			}
		})
	}
}

// TestBlueGreenPostFailIsOneSwap: the Fail of the post-promotion analysis
// takes green out with a single SetTraffic, before green is stopped (the
// sim fails a stop of a version still routed).
func TestBlueGreenPostFailIsOneSwap(t *testing.T) {
	s := newSim(t, load(t, blueGreenAnalysisYAML, "%AUTO%", "true"))
	s.must(start("v2"))
	s.tick(time.Second)
	if refs := Analyses(s.r, s.st); len(refs) != 1 || refs[0].Kind != AnalysisPrePromotion || refs[0].Revision != "v2" {
		t.Fatalf("before the switch: %+v", refs)
	}
	bgVerdict(AnalysisPrePromotion, VerdictPass)(s)
	s.tick(30 * time.Second)
	if refs := Analyses(s.r, s.st); len(refs) != 1 || refs[0].Kind != AnalysisPostPromotion {
		t.Fatalf("after the switch: %+v", refs)
	}
	if s.routed.CanaryRevision != "v2" || s.routed.Weights.CanaryPPM != v1alpha1.PPM || s.routed.StableRevision != "v1" || !s.running["v1"] {
		t.Fatalf("after the switch: routed %+v running %v", s.routed, s.running)
	}
	bgVerdict(AnalysisPostPromotion, VerdictFail)(s)
	s.tick(time.Second)
	sets := 0
	for _, a := range s.last {
		if a.Kind == ActSetTraffic {
			sets++
		}
	}
	if sets != 1 || s.routed.CanaryRevision != "" || s.routed.StableRevision != "v1" || s.running["v2"] {
		t.Fatalf("swap back took %d SetTraffic; routed %+v running %v", sets, s.routed, s.running)
	}
}
