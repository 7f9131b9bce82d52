package engine

import (
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Blue/green: green (CanaryRevision) runs beside blue with weight 0, so it
// is reachable only through the router's override header for preview. When
// green is ready it is switched to with one SetTraffic, either after
// autoPromotionDelay or, without autoPromotion, on promote.
//
// With Argo Rollouts' analyses, the stages (StepIndex) are:
//
//   - bgPreAnalysis: prePromotionAnalysis judges green before the switch.
//     Pass goes on to bgAwaitSwitch; Fail aborts (blue never stopped
//     serving); Inconclusive pauses, and promote then switches.
//   - bgAwaitSwitch: auto-promotion delay, or Paused until promote.
//   - bgPostAnalysis: the switch gave green all traffic (canary weight
//     100 %) while blue stays stable and warm; postPromotionAnalysis judges
//     green. Pass finishes (green becomes stable, blue's scale-down delay
//     starts); Fail aborts, which is one swap back to blue.

// greenReady is called once when green is first observed ready.
func (t *tx) greenReady() {
	bg := t.r.Spec.Strategy.BlueGreen
	if bg != nil && bg.PrePromotionAnalysis != nil {
		t.st.StepIndex = bgPreAnalysis
		t.st.Message = t.judgingMessage(fmt.Sprintf("green %s is ready: pre-promotion analysis", t.st.CanaryRevision), *bg.PrePromotionAnalysis)
		return
	}
	t.awaitSwitch()
}

// awaitSwitch enters bgAwaitSwitch: with autoPromotion it switches after
// the delay (counted from now), else it waits for promote.
func (t *tx) awaitSwitch() {
	bg := t.r.Spec.Strategy.BlueGreen
	t.st.StepIndex, t.st.StepStartedAt = bgAwaitSwitch, t.now
	if bg != nil && bg.AutoPromotion {
		if bg.AutoPromotionDelay <= 0 {
			t.switchGreen()
			return
		}
		t.st.Message = fmt.Sprintf("green %s is ready; switching at %s (preview it with the override header)", t.st.CanaryRevision, t.clock(bg.AutoPromotionDelay.D()))
		return
	}
	t.waitForPromotion()
}

func (t *tx) waitForPromotion() {
	t.st.Phase, t.st.PausedBy = v1alpha1.PhasePaused, PausedByPromotion
	t.st.Message = fmt.Sprintf("green %s is ready; preview it with the override header, then promote to switch", t.st.CanaryRevision)
	t.event(EventPaused, "%s", t.st.Message)
}

// switchGreen gives green all traffic. Without a post-promotion analysis
// that is the promotion itself; with one, green takes all traffic as the
// canary at 100 % while blue stays the stable revision, so a Fail is one
// swap back.
func (t *tx) switchGreen() {
	bg := t.r.Spec.Strategy.BlueGreen
	if bg == nil || bg.PostPromotionAnalysis == nil {
		t.finish()
		return
	}
	t.st.StepIndex, t.st.StepStartedAt = bgPostAnalysis, t.now
	t.setCanaryWeight(v1alpha1.PPM)
	t.st.Message = t.judgingMessage(fmt.Sprintf("switched all traffic to %s, %s kept warm: post-promotion analysis", t.st.CanaryRevision, t.st.StableRevision), *bg.PostPromotionAnalysis)
	t.event(EventSwitched, "%s", t.st.Message)
}

// greenTick moves a ready, Progressing blue/green release on: it judges
// the stage's analysis, and switches once the auto-promotion delay
// (StepStartedAt is when the stage began, shifted by any user pause) has
// passed.
func (t *tx) greenTick(obs Observations) {
	bg := t.r.Spec.Strategy.BlueGreen
	if a, kind := stageAnalysis(t.r, t.st); a != nil {
		out, why := t.judgeStage(*a, obs.StepAnalysis)
		label := t.analysisLabel(kind)
		switch out {
		case analysisPassed:
			t.event(EventAnalysisPassed, "%s: %s", label, why)
			if kind == AnalysisPrePromotion {
				t.awaitSwitch()
			} else {
				t.finish()
			}
		case analysisInconclusive:
			t.pauseInconclusive(label, why)
		}
		return
	}
	switch {
	case t.st.StepIndex == bgPostAnalysis:
		t.finish() // the post-promotion analysis left the spec mid-release
	case bg == nil || !bg.AutoPromotion:
		t.waitForPromotion()
	case !t.now.Before(t.st.StepStartedAt.Add(time.Duration(bg.AutoPromotionDelay))):
		t.switchGreen()
	}
}

// analysisLabel names a blue/green analysis for messages.
func (t *tx) analysisLabel(kind string) string {
	if kind == AnalysisPrePromotion {
		return fmt.Sprintf("pre-promotion analysis of %s", t.st.CanaryRevision)
	}
	return fmt.Sprintf("post-promotion analysis of %s", t.st.CanaryRevision)
}

// promoteGreen is `promote` for blue/green: the switch once green is ready
// and its pre-promotion analysis passed (or ended inconclusive, which a
// promote accepts); after the switch, the end of an inconclusive
// post-promotion analysis.
func (t *tx) promoteGreen() error {
	if !t.st.ReadyLostAt.IsZero() {
		return t.notReadyAgain()
	}
	if !t.st.CanaryReady {
		return &Refusal{Reason: fmt.Sprintf("green %s is not ready yet; promote --full switches as soon as it is", t.st.CanaryRevision)}
	}
	_, kind := stageAnalysis(t.r, t.st)
	judging := kind != "" && t.st.PausedBy != PausedByInconclusive
	switch {
	case judging && kind == AnalysisPrePromotion:
		return refuse("the pre-promotion analysis of %s is still judging; the switch waits for its Pass (promote --full switches without it)", t.st.CanaryRevision)
	case judging:
		return refuse("all traffic is already on %s and its post-promotion analysis is judging; promote --full makes it stable without waiting", t.st.CanaryRevision)
	case t.st.StepIndex == bgPostAnalysis:
		t.event(EventPromoted, "%s accepted after an inconclusive post-promotion analysis", t.st.CanaryRevision)
		t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhaseProgressing, "", time.Time{}
		t.finish()
		return nil
	}
	t.event(EventPromoted, "switching all traffic to %s", t.st.CanaryRevision)
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhaseProgressing, "", time.Time{}
	t.switchGreen()
	return nil
}
