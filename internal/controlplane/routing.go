package controlplane

import (
	"errors"
	"reflect"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
)

// routerConfig builds the whole routing table from every rollout's traffic and
// the platform's live endpoints. A role whose copy has no ready endpoint gets
// no weight: sending users to nothing would only produce errors, and the
// engine is told through the observed weights.
func (c *ControlPlane) routerConfig() router.Config {
	cfg := router.Config{Key: router.KeyConfig{Salt: c.salt}}
	for _, sp := range c.opts.Rollouts {
		if cfg.Key.Header == "" && cfg.Key.Cookie == "" {
			cfg.Key.Header, cfg.Key.Cookie = sp.Spec.Route.KeyHeader, sp.Spec.Route.KeyCookie
		}
		name := sp.Metadata.Name
		r := c.rollouts[name]
		if r == nil || r.ext != nil {
			continue // ELB moves this one's traffic
		}
		rel := c.releaseOf(r)
		if len(rel.Stable.Endpoints) == 0 {
			// Stable has no ready endpoint as far as we know. Right after a
			// restart that only means we have not heard from the platform
			// yet: keep what the data plane serves. On a first start there
			// is nothing: leave the rollout out rather than route to nothing.
			prev, ok := c.appliedRelease(name)
			if !ok {
				continue
			}
			rel = prev
		}
		cfg.Releases = append(cfg.Releases, rel)
		hosts := sp.Spec.Route.Hosts
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		for _, h := range hosts {
			cfg.Routes = append(cfg.Routes, router.Route{Host: h, PathPrefix: sp.Spec.Route.PathPrefix, Release: name})
		}
	}
	return cfg
}

// appliedRelease is a release as the router serves it now.
func (c *ControlPlane) appliedRelease(name string) (router.Release, bool) {
	if c.lastApplied == nil {
		return router.Release{}, false
	}
	for _, rel := range c.lastApplied.Releases {
		if rel.Name == name {
			return rel, true
		}
	}
	return router.Release{}, false
}

// releaseOf is one rollout's release in the router.
func (c *ControlPlane) releaseOf(r *rollout) router.Release {
	t := r.traffic
	name := r.spec.Metadata.Name
	rel := router.Release{
		Name:   name,
		Stable: router.Backend{Revision: t.StableRevision, Endpoints: c.endpoints(r, t.StableRevision, false)},
	}
	if t.CanaryRevision != "" {
		rel.Canary, rel.CanaryWeight = c.backend(r, t.CanaryRevision, false, t.Weights.CanaryPPM)
		if rel.Canary != nil {
			// Like a weight, a header route to a canary with no ready
			// endpoint would only produce errors.
			rel.HeaderRoutes = t.HeaderRoutes
		}
	}
	if t.BaselineRevision != "" {
		rel.Baseline, rel.BaselineWeight = c.backend(r, t.BaselineRevision, true, t.Weights.BaselinePPM)
	}
	if t.Mirror != nil && rel.Canary != nil && len(rel.Canary.Endpoints) > 0 {
		// Copies go only to a canary (and a baseline) that has ready
		// endpoints; the router compares what they answer.
		rel.Mirror, rel.MirrorRoutes = t.Mirror, t.MirrorRoutes
		if rel.Baseline != nil && len(rel.Baseline.Endpoints) == 0 {
			rel.Baseline = nil
		}
	}
	return rel
}

// backend is the canary's or the baseline copy's backend with its weight.
// Until the copy has a ready endpoint it is left out of the table (nil,
// weight 0): the router refuses a backend without endpoints, and a copy
// that is still starting must not be routed to anyway (see routerConfig).
func (c *ControlPlane) backend(r *rollout, revision string, baseline bool, w v1alpha1.Weight) (*router.Backend, v1alpha1.Weight) {
	eps := c.endpoints(r, revision, baseline)
	if len(eps) == 0 {
		return nil, 0
	}
	return &router.Backend{Revision: revision, Endpoints: eps}, w
}

func (c *ControlPlane) endpoints(r *rollout, revision string, baseline bool) []string {
	s, ok := r.pf().State(platform.Instance{Rollout: r.spec.Metadata.Name, Revision: revision, Baseline: baseline})
	if !ok || !s.Ready {
		return nil
	}
	return s.Endpoints
}

// syncRouter swaps the router's table if it changed; one atomic swap.
func (c *ControlPlane) syncRouter() {
	c.routerMu.Lock()
	defer c.routerMu.Unlock()
	cfg := c.routerConfig()
	if c.lastApplied != nil && reflect.DeepEqual(*c.lastApplied, cfg) {
		return
	}
	if err := c.router.Update(cfg); errors.Is(err, errDown) {
		return // applied by adopt once a new data plane runs
	} else if err != nil {
		c.log.Error("the data plane refused the routing table", "err", err)
		return
	}
	c.lastApplied = &cfg
}

// setTraffic records the engine's new assignment and applies it at once.
func (c *ControlPlane) setTraffic(r *rollout, t engine.Traffic) {
	c.routerMu.Lock()
	r.traffic = t
	c.routerMu.Unlock()
	c.syncRouter()
}
