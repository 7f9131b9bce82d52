package controlplane

import (
	"slices"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
)

// desiredInstances are the copies a status needs running. It is used only
// to resume after a restart; during normal operation the engine's actions say
// what to start and stop.
func desiredInstances(rollout string, st v1alpha1.RolloutStatus, now time.Time) []platform.Instance {
	ins := []platform.Instance{{Rollout: rollout, Revision: st.StableRevision}}
	if st.CanaryRevision != "" && st.CanaryRevision != st.StableRevision {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: st.CanaryRevision})
	}
	if st.Baseline && st.CanaryRevision != "" {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: st.StableRevision, Baseline: true})
	}
	if st.PreviousRevision != "" && st.PreviousRevision != st.StableRevision && st.ScaleDownAt.After(now) {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: st.PreviousRevision})
	}
	return ins
}

// trafficOf is the routing a status implies.
func trafficOf(st v1alpha1.RolloutStatus) engine.Traffic {
	t := engine.Traffic{StableRevision: st.StableRevision, Weights: st.Weights}
	if st.CanaryRevision != "" {
		t.CanaryRevision = st.CanaryRevision
	}
	if st.Baseline && st.CanaryRevision != "" {
		t.BaselineRevision = st.StableRevision
	}
	if st.CanaryRevision != "" && len(st.HeaderRoutes) > 0 {
		t.HeaderRoutes = slices.Clone(st.HeaderRoutes)
	}
	return t
}
