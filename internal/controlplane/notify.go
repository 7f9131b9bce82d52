package controlplane

import (
	"context"
	"net/url"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/notify"
)

// newNotifier builds a rollout's notifier; nil (which notifies nobody) when
// the spec has no notifications.
func (c *ControlPlane) newNotifier(r *rollout) (*notify.Notifier, error) {
	cfg := r.spec.Spec.Notifications
	if cfg == nil {
		return nil, nil
	}
	return notify.New(*cfg, notify.Options{Logger: c.log})
}

// notify hands a recorded event to the rollout's receivers. It never blocks:
// a broken receiver must not hold a release.
func (c *ControlPlane) notify(r *rollout, ev engine.Event) {
	if r.notifier == nil {
		return
	}
	rev := r.status.CanaryRevision
	if rev == "" {
		rev = r.status.StableRevision
	}
	r.notifier.Notify(notify.Event{
		Rollout:      r.spec.Metadata.Name,
		Type:         ev.Type,
		Message:      ev.Message,
		Revision:     rev,
		DashboardURL: c.dashboardURL(r.spec.Metadata.Name),
		Time:         ev.Time,
	})
}

// dashboardURL links a rollout's page on the dashboard.
func (c *ControlPlane) dashboardURL(name string) string {
	if c.opts.APIURL == "" {
		return ""
	}
	return c.opts.APIURL + "/dashboard/#/rollouts/" + url.PathEscape(name)
}

// closeNotifiers flushes what is queued within ctx.
func (c *ControlPlane) closeNotifiers(ctx context.Context) error {
	var first error
	for _, r := range c.rollouts {
		if err := r.notifier.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}
