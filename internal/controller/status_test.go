package controller

import (
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

// The pure parts of a pass, without an API server: what a status needs
// running, when the engine must look again, and the conditions' times.

func TestDesiredInstances(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		st   v1alpha1.RolloutStatus
		want []string
	}{
		"healthy":             {v1alpha1.RolloutStatus{StableRevision: "v1"}, []string{"v1"}},
		"canary and baseline": {v1alpha1.RolloutStatus{StableRevision: "v1", CanaryRevision: "v2", Baseline: true}, []string{"v1", "v2", "v1+baseline"}},
		"previous warm":       {v1alpha1.RolloutStatus{StableRevision: "v2", PreviousRevision: "v1", ScaleDownAt: at}, []string{"v2", "v1"}},
		// The engine clears ScaleDownAt when it scales the previous one
		// down; only then may it be stopped.
		"previous scaled down": {v1alpha1.RolloutStatus{StableRevision: "v2", PreviousRevision: "v1"}, []string{"v2"}},
		"previous released again": {v1alpha1.RolloutStatus{StableRevision: "v2", CanaryRevision: "v1", PreviousRevision: "v1", ScaleDownAt: at},
			[]string{"v2", "v1"}},
	} {
		var got []string
		for _, in := range desiredInstances("web", c.st) {
			got = append(got, engine.VersionKey(in.Revision, in.Baseline))
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", name, got, c.want)
			}
		}
	}
	// trafficOf names the baseline only beside a canary.
	if tr := trafficOf(v1alpha1.RolloutStatus{StableRevision: "v1", Baseline: true}); tr.BaselineRevision != "" {
		t.Errorf("baseline without a canary: %+v", tr)
	}
}

func TestNextDeadline(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w := v1alpha1.Weight(100_000)
	d := v1alpha1.Duration(time.Minute)
	canary := v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.Step{
		{SetWeight: &w}, {Pause: &v1alpha1.Pause{Duration: &d}}, {Analysis: &v1alpha1.AnalysisStep{Duration: v1alpha1.Duration(2 * time.Minute)}}, {Pause: &v1alpha1.Pause{}},
	}}}}}
	bg := v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{AutoPromotion: true, AutoPromotionDelay: v1alpha1.Duration(30 * time.Second)}}}}
	progressing := func(step int) v1alpha1.RolloutStatus {
		return v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CanaryRevision: "v2", CanaryReady: true, StepIndex: step, StepStartedAt: t0}
	}
	bgPre := v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		PrePromotionAnalysis: &v1alpha1.AnalysisStep{Duration: v1alpha1.Duration(time.Minute)}}}}}
	for name, c := range map[string]struct {
		r    v1alpha1.Rollout
		st   v1alpha1.RolloutStatus
		want time.Time
	}{
		"timed pause":       {canary, progressing(1), t0.Add(time.Minute)},
		"analysis step":     {canary, progressing(2), t0.Add(2 * time.Minute)},
		"pause for promote": {canary, progressing(3), time.Time{}},
		"not ready yet":     {canary, v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, StepIndex: 1, StepStartedAt: t0}, time.Time{}},
		// A user's pause freezes the step's clock; only the scale-down runs.
		"paused, warm previous":  {canary, v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused, CanaryReady: true, StepIndex: 1, StepStartedAt: t0, ScaleDownAt: t0.Add(5 * time.Second)}, t0.Add(5 * time.Second)},
		"scale-down first":       {canary, func() v1alpha1.RolloutStatus { s := progressing(1); s.ScaleDownAt = t0.Add(time.Second); return s }(), t0.Add(time.Second)},
		"auto-promotion":         {bg, progressing(0), t0.Add(30 * time.Second)},
		"pre-promotion analysis": {bgPre, progressing(0), t0.Add(time.Minute)},
	} {
		if got := nextDeadline(c.r, c.st); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

func TestSetCondition(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	conds := setCondition(nil, v1alpha1.Condition{Type: "Ready", Status: v1alpha1.ConditionFalse, Reason: "StableNotReady"}, 1, t0)
	conds = setCondition(conds, v1alpha1.Condition{Type: "Paused", Status: v1alpha1.ConditionFalse, Reason: "NotPaused"}, 1, t0)
	// Same status, new reason and generation: the transition time stays.
	again := setCondition(conds, v1alpha1.Condition{Type: "Ready", Status: v1alpha1.ConditionFalse, Reason: "Other", Message: "m"}, 2, t0.Add(time.Hour))
	if c := again[0]; !c.LastTransitionTime.Equal(t0) || c.Reason != "Other" || c.ObservedGeneration != 2 || len(again) != 2 {
		t.Errorf("same status: %+v", again)
	}
	flipped := setCondition(again, v1alpha1.Condition{Type: "Ready", Status: v1alpha1.ConditionTrue, Reason: "StableReady"}, 2, t0.Add(2*time.Hour))
	if c := flipped[0]; !c.LastTransitionTime.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("flipped: %+v", c)
	}
	if conds[0].Reason != "StableNotReady" || again[0].Status != v1alpha1.ConditionFalse {
		t.Error("setCondition changed the slice it was given")
	}
}

func TestStepColumn(t *testing.T) {
	w := v1alpha1.Weight(100_000)
	r := v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.Step{{SetWeight: &w}, {Pause: &v1alpha1.Pause{}}}}}}}
	for _, c := range []struct {
		phase v1alpha1.Phase
		index int
		want  string
	}{
		{v1alpha1.PhaseHealthy, 0, ""},
		{v1alpha1.PhaseProgressing, 0, "1/2"},
		{v1alpha1.PhasePaused, 1, "2/2"},
		{v1alpha1.PhaseHealthy, 2, "2/2"},
		{v1alpha1.PhaseAborted, 0, ""},
		{v1alpha1.PhaseProgressing, 2, "2/2"},
	} {
		st, want := v1alpha1.RolloutStatus{Phase: c.phase, StepIndex: c.index}, c.want
		if got := stepColumn(r, st); got != want {
			t.Errorf("%s at %d: %q, want %q", st.Phase, st.StepIndex, got, want)
		}
	}
}
