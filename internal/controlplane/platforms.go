package controlplane

import (
	"fmt"
	"io"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
)

// newPlatform asks the data plane for the platform a rollout's spec names.
func (c *ControlPlane) newPlatform(sp v1alpha1.Rollout) (platform.Platform, error) {
	return c.opts.DataPlane.Platform(sp.Metadata.Name, sp.Spec.Platform)
}

// logs writes a copy's output if its platform keeps any.
func (c *ControlPlane) logs(r *rollout, revision string, baseline bool, tail int, w io.Writer) error {
	l, ok := r.platform.(interface {
		Logs(in platform.Instance, tail int, w io.Writer) error
	})
	if !ok || !platform.Has(r.platform, platform.HasLogs) {
		return fmt.Errorf("rollout %s: its platform keeps no logs", r.spec.Metadata.Name)
	}
	return l.Logs(platform.Instance{Rollout: r.spec.Metadata.Name, Revision: revision, Baseline: baseline}, tail, w)
}
