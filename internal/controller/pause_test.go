package controller_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// testPause: spec.paused holds a release in a timed pause as a user's
// pause, and false resumes it with the time the pause had left.
func testPause(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	n.createRollout("web", canarySpec("web",
		v1alpha1.Step{SetWeight: weight(10)},
		v1alpha1.Step{Pause: &v1alpha1.Pause{Duration: duration(2 * time.Second)}},
		v1alpha1.Step{SetWeight: weight(30)},
		v1alpha1.Step{Pause: &v1alpha1.Pause{}},
	))
	n.startController("a")
	n.healthy("web")
	n.setRevision("web", "v2")
	st := n.waitStep("web", v1alpha1.PhaseProgressing, "2/4")
	n.patch("web", `{"spec":{"paused":true}}`)
	st = n.waitStatus("web", "paused by the user", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.PausedBy == "user"
	})
	if c := condition(st, v1alpha1.ConditionPaused); c.Status != v1alpha1.ConditionTrue || c.Reason != "PausedByUser" {
		t.Errorf("Paused condition %+v", c)
	}
	if st.Step != "2/4" {
		t.Errorf("the pause moved the step to %s", st.Step)
	}
	pausedAt, started := st.PausedAt, st.StepStartedAt
	n.patch("web", `{"spec":{"paused":false}}`)
	st = n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	if st.PausedBy != "step" {
		t.Errorf("after resume: %+v", st)
	}
	var resumed, third time.Time
	for _, e := range n.events("web") {
		switch {
		case e.Reason == "Resumed":
			resumed = eventTime(e)
		case e.Reason == "StepReached" && strings.HasPrefix(e.Message, "step 3/4"):
			third = eventTime(e)
		}
	}
	// The pause had started-to-paused left to run when it was resumed.
	left := 2*time.Second - pausedAt.Sub(started)
	if resumed.IsZero() || third.Before(resumed.Add(left).Truncate(time.Millisecond)) {
		t.Errorf("resumed at %s with %s of the pause left, but step 3 began at %s", resumed, left, third)
	}
}

// testFailedCanary: a canary whose Deployment exceeds its progress
// deadline aborts the release on its own: weight 0, then the copy goes.
func testFailedCanary(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	n.createRollout("web", canarySpec("web"))
	n.startController("a")
	n.healthy("web")
	n.kubelet.failing("web-canary")
	n.setRevision("web", "v2")
	ev := n.waitEvent("web", "Aborted", "canary v2 failed: Deployment web-canary")
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("event %+v", ev)
	}
	st := n.waitStatus("web", "aborted, the copy gone", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseAborted && n.deployment("web-canary") == nil
	})
	if st.StableRevision != "v1" || condition(st, v1alpha1.ConditionReady).Status != v1alpha1.ConditionTrue {
		t.Errorf("after the failed canary: %+v", st)
	}
}

// testAnalysis: with replicas traffic there are no router samples, so a
// router metric is Inconclusive and says why: the analysis step ends
// Inconclusive once its duration is over (never a pass), the release
// pausing for a person. promote continues past the step. (Analysis on the
// router's samples: internal/e2e/kube's TestClusterAnalysis.)
func testAnalysis(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	sp := canarySpec("web",
		v1alpha1.Step{SetWeight: weight(10)},
		v1alpha1.Step{Analysis: &v1alpha1.AnalysisStep{Duration: v1alpha1.Duration(time.Second)}},
		v1alpha1.Step{SetWeight: weight(30)},
		v1alpha1.Step{Pause: &v1alpha1.Pause{}},
	)
	sp.Analysis = &v1alpha1.AnalysisSpec{Metrics: []v1alpha1.MetricSpec{{
		Name: "errors", Kind: "errorRate", Provider: v1alpha1.MetricProvider{Router: &v1alpha1.RouterMetric{}},
	}}}
	sp.Strategy.Canary.Analysis = &v1alpha1.BackgroundAnalysis{Metrics: []v1alpha1.MetricRef{{Name: "errors"}}}
	n.createRollout("web", sp)
	n.startController("a")
	n.healthy("web")
	n.setRevision("web", "v2")
	st := n.waitStatus("web", "the analysis step inconclusive", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.PausedBy == "inconclusive"
	})
	if st.Step != "2/4" || !strings.Contains(st.Message, "no router samples") {
		t.Errorf("at the analysis step: %+v", st)
	}
	if c := condition(st, v1alpha1.ConditionPaused); c.Reason != "AnalysisInconclusive" {
		t.Errorf("Paused condition %+v", c)
	}
	n.waitEvent("web", "AnalysisInconclusive", "no router samples: the traffic does not go through kanaria's router")
	for _, e := range n.events("web") {
		if e.Reason == "AnalysisPassed" {
			t.Errorf("an analysis passed without data: %s", e.Message)
		}
	}
	n.command("web", "promote", "1")
	n.waitStep("web", v1alpha1.PhasePaused, "4/4")
}
