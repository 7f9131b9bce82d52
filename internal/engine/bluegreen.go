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

// greenReady is called once when green is first observed ready.
func (t *tx) greenReady() {
	bg := t.r.Spec.Strategy.BlueGreen
	if bg != nil && bg.AutoPromotion {
		if bg.AutoPromotionDelay <= 0 {
			t.finish()
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

// greenTick switches once the auto-promotion delay (StepStartedAt is when
// green became ready, shifted by any user pause) has passed.
func (t *tx) greenTick() {
	bg := t.r.Spec.Strategy.BlueGreen
	if bg == nil || !bg.AutoPromotion {
		t.waitForPromotion()
		return
	}
	if !t.now.Before(t.st.StepStartedAt.Add(time.Duration(bg.AutoPromotionDelay))) {
		t.finish()
	}
}

// promoteGreen is `promote` for blue/green: the switch, once green is ready.
func (t *tx) promoteGreen() error {
	if !t.st.CanaryReady {
		return &Refusal{Reason: fmt.Sprintf("green %s is not ready yet; promote --full switches as soon as it is", t.st.CanaryRevision)}
	}
	t.event(EventPromoted, "switching all traffic to %s", t.st.CanaryRevision)
	t.finish()
	return nil
}
