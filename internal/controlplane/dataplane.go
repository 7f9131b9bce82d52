package controlplane

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// DataPlane is where the router and the versions live: a separate process
// (internal/dataplane) that keeps serving its last table while the control
// plane is down, so a kill -9 of the control plane costs users nothing.
type DataPlane interface {
	UpdateRouter(ctx context.Context, cfg router.Config) error
	RouterConfig(ctx context.Context) (router.Config, error)
	Weights(ctx context.Context, release string) (w v1alpha1.Weights, ok bool, err error)
	Samples(ctx context.Context, release string, v router.Version, since time.Time) ([]router.Sample, error)
	Counts(ctx context.Context, release string, v router.Version) (router.Counts, error)
	MirrorReport(ctx context.Context, release string) (shadow.Report, bool, error)
	Platform(rollout string, p v1alpha1.Platform) (platform.Platform, error)
	// Alive asks the data plane who it is; an error wrapping
	// dataplane.ErrNotRunning means nothing serves it any more. ID is the
	// answer last known; Restart starts a new data plane when none answers
	// (heal.go).
	Alive(ctx context.Context) (id string, err error)
	ID() string
	Restart(ctx context.Context) error
}

// dataPlaneCallTimeout bounds every call the reconcile loop makes, so a data
// plane that hangs delays a tick instead of stopping the loop.
const dataPlaneCallTimeout = 5 * time.Second

// routerView is the control plane's synchronous view of the data plane's
// router; errors are logged and read as "unknown".
type routerView struct {
	dp  DataPlane
	log *slog.Logger
	// down: the data plane is lost (heal.go). Nothing is asked, nothing is
	// logged: one line said so, not five a second.
	down atomic.Bool
}

// errDown is what Update says while the data plane is lost.
var errDown = errors.New("the data plane is down")

// Update swaps the data plane's routing table.
func (v *routerView) Update(cfg router.Config) error {
	if v.down.Load() {
		return errDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), dataPlaneCallTimeout)
	defer cancel()
	return v.dp.UpdateRouter(ctx, cfg)
}

// Weights reads back the weights in force; ok is false when unknown.
func (v *routerView) Weights(release string) (v1alpha1.Weights, bool) {
	if v.down.Load() {
		return v1alpha1.Weights{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), dataPlaneCallTimeout)
	defer cancel()
	w, ok, err := v.dp.Weights(ctx, release)
	if err != nil {
		v.log.Warn("data plane: cannot read weights", "release", release, "err", err)
		return v1alpha1.Weights{}, false
	}
	return w, ok
}

// Samples returns the requests one version served since a time (nil when
// the data plane cannot be read).
func (v *routerView) Samples(release string, ver router.Version, since time.Time) []router.Sample {
	if v.down.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dataPlaneCallTimeout)
	defer cancel()
	ss, err := v.dp.Samples(ctx, release, ver, since)
	if err != nil {
		v.log.Warn("data plane: cannot read samples", "release", release, "version", ver, "err", err)
		return nil
	}
	return ss
}

// MirrorReport returns the comparison of a release's mirrored answers; ok
// is false when it never mirrored or the data plane cannot be read.
func (v *routerView) MirrorReport(release string) (shadow.Report, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), dataPlaneCallTimeout)
	defer cancel()
	rep, ok, err := v.dp.MirrorReport(ctx, release)
	if err != nil {
		v.log.Warn("data plane: cannot read the mirror report", "release", release, "err", err)
		return shadow.Report{}, false
	}
	return rep, ok
}

// Counts returns one version's cumulative counters.
func (v *routerView) Counts(release string, ver router.Version) router.Counts {
	if v.down.Load() {
		return router.Counts{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), dataPlaneCallTimeout)
	defer cancel()
	cs, err := v.dp.Counts(ctx, release, ver)
	if err != nil {
		v.log.Warn("data plane: cannot read counts", "release", release, "version", ver, "err", err)
		return router.Counts{}
	}
	return cs
}
