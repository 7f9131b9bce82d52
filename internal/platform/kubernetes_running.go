package platform

import (
	"context"
	"fmt"
)

// Running lists the instances that run for the rollout, as the cache has
// them: the target's revision (once adopted), the canary copy's and the
// baseline copy's (one being deleted no longer counts). The controller
// stops every one its status no longer names, so a copy whose Stop was
// decided by a controller killed before it acted is stopped all the same.
// Instances are listed once each: the target and the canary copy run the
// same revision while the target rolls to it.
func (k *Kubernetes) Running(ctx context.Context) ([]Instance, error) {
	target, err := k.getTarget(ctx)
	if err != nil {
		return nil, err
	}
	var out []Instance
	seen := map[Instance]bool{}
	add := func(in Instance) {
		if in.Revision != "" && !seen[in] {
			seen[in] = true
			out = append(out, in)
		}
	}
	add(Instance{Rollout: k.rollout, Revision: revisionOf(target)})
	for _, role := range []string{RoleCanary, RoleBaseline} {
		d, err := k.getCopy(ctx, role)
		if err != nil {
			return nil, fmt.Errorf("rollout %s: %w", k.rollout, err)
		}
		if d != nil && d.DeletionTimestamp == nil {
			add(Instance{Rollout: k.rollout, Revision: revisionOf(d), Baseline: role == RoleBaseline})
		}
	}
	return out, nil
}
