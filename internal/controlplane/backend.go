package controlplane

import (
	"context"
	"io"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/version"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Info describes this control plane.
func (c *ControlPlane) Info() wire.Info {
	return wire.Info{
		Version:   version.Version,
		RouterURL: c.opts.RouterURL,
		APIURL:    c.opts.APIURL,
		// The dashboard is served by the API server.
		DashboardURL: c.opts.APIURL + "/dashboard/",
		StateDir:     c.opts.StateDir,
	}
}

// List returns every rollout, sorted by name.
func (c *ControlPlane) List(ctx context.Context) ([]wire.RolloutView, error) {
	views := make([]wire.RolloutView, 0, len(c.names))
	for _, n := range c.names {
		views = append(views, c.view(c.rollouts[n]))
	}
	return views, nil
}

// Get returns one rollout.
func (c *ControlPlane) Get(ctx context.Context, name string) (wire.RolloutView, error) {
	r, ok := c.rollouts[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	return c.view(r), nil
}

// Do applies a user's command.
func (c *ControlPlane) Do(ctx context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	r, ok := c.rollouts[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	if err := c.refuseWhileDown(r, cmd); err != nil {
		return c.view(r), err
	}
	if cmd.Kind == engine.CmdStart {
		if err := c.startable(ctx, r, cmd.Revision); err != nil {
			return c.view(r), err
		}
	}
	_, err := c.command(ctx, r, cmd)
	return wire.CommandOutcome(name, c.view(r), err)
}

// Events returns a rollout's history after an event id.
func (c *ControlPlane) Events(ctx context.Context, name string, afterID int64, limit int) ([]wire.Event, error) {
	if _, ok := c.rollouts[name]; !ok {
		return nil, wire.ErrNotFound
	}
	evs, err := c.store.Events(ctx, name, afterID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]wire.Event, len(evs))
	for i, e := range evs {
		out[i] = wire.Event{ID: e.ID, Rollout: e.Rollout, Time: e.Time, Type: e.Type, Message: e.Message}
	}
	return out, nil
}

// Logs writes the tail of a revision's process output.
func (c *ControlPlane) Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error {
	r, ok := c.rollouts[name]
	if !ok {
		return wire.ErrNotFound
	}
	return c.logs(r, revision, baseline, tail, w)
}

func (c *ControlPlane) view(r *rollout) wire.RolloutView {
	r.mu.Lock()
	st := r.status
	routerURL, explain := c.opts.RouterURL, ""
	if r.ext != nil {
		// Users reach an ECS service through its load balancer.
		routerURL, explain = "", r.ext.explain
	}
	r.mu.Unlock()
	v := wire.NewRolloutView(r.spec, st, routerURL)
	v.Traffic = explain
	v.Analysis = r.analysisViews()
	return v
}
