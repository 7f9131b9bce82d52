package controlplane

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// newPlatform builds the platform a rollout's spec names.
func (c *ControlPlane) newPlatform(sp spec.Rollout) (platform.Platform, error) {
	switch {
	case sp.Spec.Platform.Local != nil:
		return platform.NewLocal(sp.Metadata.Name, *sp.Spec.Platform.Local, platform.LocalOptions{
			LogDir:      filepath.Join(c.opts.StateDir, "logs"),
			KanariaPath: c.opts.KanariaPath,
			Logf:        c.opts.Logf,
		}), nil
	case sp.Spec.Platform.Static != nil:
		return platform.NewStatic(*sp.Spec.Platform.Static), nil
	}
	return nil, fmt.Errorf("spec.platform: neither local nor static")
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
