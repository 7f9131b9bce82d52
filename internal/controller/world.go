package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// Platform is what the controller needs of the Kubernetes platform
// (platform.Kubernetes) beyond platform.Platform: the checks that make a
// Rollout invalid, what runs (so a copy the status no longer names is
// stopped even when the pass that decided it was killed before acting),
// and the last step of a promotion in place.
type Platform interface {
	platform.Platform
	// Validate checks the target against the spec for a revision, writing
	// nothing; a problem with the spec is a *platform.InvalidError.
	Validate(ctx context.Context, revision string) error
	// Running lists the instances that run for the rollout.
	Running(ctx context.Context) ([]platform.Instance, error)
	// Settle removes the canary copy once the target runs its revision
	// and routed (the endpoints of the traffic read back) no longer
	// names the copy's Service.
	Settle(ctx context.Context, routed []string) error
}

// platformFor is the Rollout's platform, reading through the cache.
func (r *Reconciler) platformFor(ro *kanariav1alpha1.Rollout) (Platform, error) {
	owner := metav1.OwnerReference{
		APIVersion: kanariav1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID,
	}
	return platform.NewKubernetes(r.Client, ro.Namespace, ro.Name, owner, *ro.Spec.Platform.Kubernetes)
}

// trafficFor is the Rollout's traffic provider: spec.traffic's choice,
// kanaria's router when there is none.
func (r *Reconciler) trafficFor(ro *kanariav1alpha1.Rollout) (traffic.Provider, error) {
	t := ro.Spec.Traffic
	switch {
	case t != nil && t.GatewayAPI != nil:
		// Uncached: it writes the routes with the resourceVersion it read.
		return traffic.NewGatewayAPI(r.Direct, *t.GatewayAPI), nil
	case t != nil && t.Replicas != nil:
		return traffic.NewReplicas(r.Client), nil
	}
	// status.traffic is read without the cache: the generation written
	// next is counted from it, and a stale one would be written twice for
	// two different assignments.
	return traffic.NewRouter(traffic.RolloutStatusStore{Client: r.Direct}, r.Client, r.RouterNamespace, r.Now), nil
}

// desiredInstances are the copies st needs running: the stable revision,
// the canary and its baseline copy during a release, and the previous
// stable while it is kept warm for undo. The engine clears ScaleDownAt when
// it scales that one down, so this follows the status alone.
func desiredInstances(rollout string, st v1alpha1.RolloutStatus) []platform.Instance {
	ins := []platform.Instance{{Rollout: rollout, Revision: st.StableRevision}}
	if st.CanaryRevision != "" && st.CanaryRevision != st.StableRevision {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: st.CanaryRevision})
	}
	if st.Baseline && st.CanaryRevision != "" {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: st.StableRevision, Baseline: true})
	}
	if p := st.PreviousRevision; p != "" && !st.ScaleDownAt.IsZero() && p != st.StableRevision && p != st.CanaryRevision {
		ins = append(ins, platform.Instance{Rollout: rollout, Revision: p})
	}
	return ins
}

// trafficOf is the routing assignment st describes (what the engine's last
// SetTraffic said).
func trafficOf(st v1alpha1.RolloutStatus) engine.Traffic {
	t := engine.Traffic{StableRevision: st.StableRevision, CanaryRevision: st.CanaryRevision, Weights: st.Weights}
	if st.Baseline && st.CanaryRevision != "" {
		t.BaselineRevision = st.StableRevision
	}
	if st.CanaryRevision != "" && len(st.HeaderRoutes) > 0 {
		t.HeaderRoutes = slices.Clone(st.HeaderRoutes)
	}
	return t
}

func key(in platform.Instance) string { return engine.VersionKey(in.Revision, in.Baseline) }

// observe gathers what the engine needs: the platform's state of every
// copy the status implies, the traffic read back, and the analyses'
// verdicts.
func (p *pass) observe(ctx context.Context) {
	obs := engine.Observations{Versions: map[string]engine.VersionState{}}
	wanted := map[string]bool{}
	for _, in := range desiredInstances(p.ro.Name, p.st) {
		k := key(in)
		wanted[k] = true
		if why, bad := p.mem.invalid[k]; bad {
			obs.Versions[k] = engine.VersionState{Failed: true, Reason: why}
			continue
		}
		if s, ok := p.pf.State(in); ok {
			obs.Versions[k] = engine.VersionState{Ready: s.Ready, Failed: s.Failed, Reason: s.Reason}
		}
	}
	for k := range p.mem.invalid {
		if !wanted[k] {
			delete(p.mem.invalid, k)
		}
	}
	if w, ok, err := p.tp.Observe(ctx, p.ro.Namespace, p.ro.Name); err != nil {
		p.log.Warn("reading the traffic back", "err", err)
	} else if ok {
		obs.RouterWeights = &w
	}
	obs.Approximate = traffic.Has(p.tp, traffic.Approximate)
	p.analysis(ctx, &obs)
	p.obs = obs
}

// act brings the cluster to what the written status says, in the engine's
// order: the copies it needs are ensured, then the traffic provider is set
// to its assignment, and only once the provider reads the weights back are
// the copies it no longer names stopped (and a promotion in place
// finished). Each step is idempotent and a no-op when the cluster already
// matches, so this runs on every pass: a step that failed, or that a
// killed controller never reached, is done by a later one. It reports
// whether everything is done; what is not goes into memory.waiting.
func (p *pass) act(ctx context.Context) bool {
	var waiting []string
	wait := func(format string, args ...any) { waiting = append(waiting, fmt.Sprintf(format, args...)) }
	defer func() {
		w := strings.Join(waiting, "; ")
		if w != p.mem.waiting && w != "" {
			p.log.Info("waiting", "for", w)
		}
		p.mem.waiting = w
	}()

	desired := desiredInstances(p.ro.Name, p.st)
	wanted := map[string]bool{}
	for _, in := range desired {
		wanted[key(in)] = true
		if err := p.pf.Ensure(ctx, in); err != nil {
			var inv *platform.InvalidError
			if errors.As(err, &inv) {
				// Not worth retrying: reported as failed to the engine.
				p.mem.invalid[key(in)] = inv.Error()
			}
			p.log.Warn("ensure", "version", key(in), "err", err)
			wait("starting %s: %v", key(in), err)
		}
	}
	a, why := p.assignment(trafficOf(p.st))
	if why != "" {
		wait("%s", why)
		return false
	}
	if err := p.tp.Set(ctx, a); err != nil {
		p.log.Warn("setting traffic", "err", err)
		wait("setting traffic: %v", err)
		return false
	}
	if ok, why := p.readBack(ctx, a.Weights); !ok {
		// Nothing is stopped while users may still be sent to it.
		wait("%s", why)
		return false
	}
	running, err := p.pf.Running(ctx)
	if err != nil {
		wait("listing what runs: %v", err)
		return false
	}
	for _, in := range running {
		if wanted[key(in)] {
			continue
		}
		if err := p.pf.Stop(ctx, in); err != nil {
			p.log.Warn("stop", "version", key(in), "err", err)
			wait("stopping %s: %v", key(in), err)
		}
	}
	if err := p.pf.Settle(ctx, a.Endpoints()); err != nil {
		wait("finishing the promotion: %v", err)
	}
	return len(waiting) == 0
}

// assignment is the traffic provider's assignment for t, with the
// platform's endpoints of each role; why says what is missing when there
// is none yet. A canary or baseline the platform does not know yet is left
// out while its weight is 0 (it could not be reached anyway).
func (p *pass) assignment(t engine.Traffic) (a traffic.Assignment, why string) {
	a = traffic.Assignment{Namespace: p.ro.Namespace, Rollout: p.ro.Name, Weights: t.Weights}
	stable, ok := p.pf.State(platform.Instance{Rollout: p.ro.Name, Revision: t.StableRevision})
	if !ok || len(stable.Endpoints) == 0 {
		return a, fmt.Sprintf("routing: the stable revision %s does not run yet", t.StableRevision)
	}
	a.Stable = traffic.Backend{Revision: t.StableRevision, Endpoints: stable.Endpoints}
	side := func(rev string, baseline bool, w v1alpha1.Weight) (*traffic.Backend, string) {
		if rev == "" {
			return nil, ""
		}
		s, ok := p.pf.State(platform.Instance{Rollout: p.ro.Name, Revision: rev, Baseline: baseline})
		if !ok || len(s.Endpoints) == 0 {
			if w > 0 {
				return nil, fmt.Sprintf("routing: %s has weight %s but does not run", engine.VersionKey(rev, baseline), w)
			}
			return nil, ""
		}
		return &traffic.Backend{Revision: rev, Endpoints: s.Endpoints}, ""
	}
	if a.Canary, why = side(t.CanaryRevision, false, t.Weights.CanaryPPM); why != "" {
		return a, why
	}
	if a.Baseline, why = side(t.BaselineRevision, true, t.Weights.BaselinePPM); why != "" {
		return a, why
	}
	if a.Canary != nil && len(t.HeaderRoutes) > 0 {
		a.HeaderRoutes = slices.Clone(t.HeaderRoutes)
	} else if len(t.HeaderRoutes) > 0 {
		return a, fmt.Sprintf("routing: header routes to %s, which does not run yet", t.CanaryRevision)
	}
	return a, ""
}

// readBack reports whether the provider reads back the weights just set.
// An Approximate provider never reads back the weight asked for (whole
// pods): for it a settled read-back of any share is enough.
func (p *pass) readBack(ctx context.Context, want v1alpha1.Weights) (bool, string) {
	w, ok, err := p.tp.Observe(ctx, p.ro.Namespace, p.ro.Name)
	switch {
	case err != nil:
		return false, fmt.Sprintf("reading the traffic back: %v", err)
	case !ok:
		return false, "waiting for the traffic to be read back" + p.explain(ctx)
	case traffic.Has(p.tp, traffic.Approximate) || w == want:
		return true, ""
	}
	return false, fmt.Sprintf("traffic read back as canary %s, baseline %s; want %s, %s%s", w.CanaryPPM, w.BaselinePPM, want.CanaryPPM, want.BaselinePPM, p.explain(ctx))
}

// explain is the provider's own account of its traffic, ": ..." or "".
func (p *pass) explain(ctx context.Context) string {
	ex, ok := p.tp.(traffic.Explainer)
	if !ok {
		return ""
	}
	s, err := ex.Explain(ctx, p.ro.Namespace, p.ro.Name)
	if err != nil || s == "" {
		return ""
	}
	return ": " + s
}
