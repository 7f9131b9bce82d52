package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/traffic"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// newPlatform asks the data plane for the platform a rollout's spec names.
// ECS task sets are not processes of the data plane: AWS keeps them, so
// the control plane drives them itself, with the ELB traffic provider.
func (c *ControlPlane) newPlatform(ctx context.Context, sp v1alpha1.Rollout) (platform.Platform, *external, error) {
	e := sp.Spec.Platform.ECS
	if e == nil {
		p, err := c.opts.DataPlane.Platform(sp.Metadata.Name, sp.Spec.Platform)
		return p, nil, err
	}
	if sp.Spec.Traffic == nil || sp.Spec.Traffic.ELB == nil {
		return nil, nil, errors.New("platform ecs needs traffic.elb")
	}
	pf, err := platform.NewECS(ctx, sp.Metadata.Name, *e, platform.ECSOptions{FullScale: sp.Spec.Strategy.BlueGreen != nil, Logger: c.log})
	if err != nil {
		return nil, nil, err
	}
	tp, err := traffic.NewELB(ctx, *sp.Spec.Traffic.ELB, e.AWS, e.TargetGroups)
	if err != nil {
		pf.Close(ctx)
		return nil, nil, err
	}
	return pf, &external{pf: pf, tp: tp}, nil
}

// logs writes a copy's output if its platform keeps any.
func (c *ControlPlane) logs(r *rollout, revision string, baseline bool, tail int, w io.Writer) error {
	l, ok := r.pf().(interface {
		Logs(in platform.Instance, tail int, w io.Writer) error
	})
	if !ok || !platform.Has(r.pf(), platform.HasLogs) {
		return fmt.Errorf("rollout %s: its platform keeps no logs", r.spec.Metadata.Name)
	}
	return l.Logs(platform.Instance{Rollout: r.spec.Metadata.Name, Revision: revision, Baseline: baseline}, tail, w)
}

// startable refuses, before anything changes, a start that its platform can
// never carry out. A platform that starts nothing (static) only looks its
// revisions up, so asking it now is free and says what a release would find
// a second later: no endpoints for the revision, or no baseline copy.
// Platforms that start processes are not asked: their Ensure starts them.
func (c *ControlPlane) startable(ctx context.Context, r *rollout, rev string) error {
	if platform.Has(r.pf(), platform.CanStart) || v1alpha1.ValidateRevision(rev) != nil {
		return nil // the engine refuses a malformed revision in its own words
	}
	name := r.spec.Metadata.Name
	ins := []platform.Instance{{Rollout: name, Revision: rev}}
	if cs := r.spec.Spec.Strategy.Canary; cs != nil && cs.Baseline {
		r.mu.Lock()
		stable := r.status.StableRevision
		r.mu.Unlock()
		ins = append(ins, platform.Instance{Rollout: name, Revision: stable, Baseline: true})
	}
	for _, in := range ins {
		if err := r.pf().Ensure(ctx, in); err != nil {
			return &wire.InvalidError{Reason: fmt.Sprintf("rollout %s: cannot start %s: %v", name, rev, err)}
		}
	}
	return nil
}
