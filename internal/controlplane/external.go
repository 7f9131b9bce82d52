package controlplane

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// External traffic: a rollout on ECS has its traffic moved by ELB, not by
// kanaria's router, and its copies are task sets that outlive the control
// plane. Each tick the control plane brings AWS to what the status says,
// as `kanaria controller` does in a cluster: the stable revision's task
// set is promoted (100 %, PRIMARY); the assignment is set once every
// revision that gets traffic is ready (STEADY_STATE); it is read back; and
// only once the read-back equals what ELB can honour of the weights are
// the task sets the status no longer names deleted (an abort: weights
// back to stable first, then DeleteTaskSet). Each step is idempotent, so
// a control plane killed anywhere finishes the job after a restart.

// externalPlatform is what the control plane needs of a platform whose
// copies live outside it (platform.ECS).
type externalPlatform interface {
	platform.Platform
	// Validate checks the platform's resources against the spec,
	// changing nothing.
	Validate(ctx context.Context) error
	// Running lists the copies that run, as the platform says.
	Running(ctx context.Context) ([]platform.Instance, error)
	// Promote makes a revision's copy carry the whole service.
	Promote(ctx context.Context, revision string) error
}

// validator is a traffic provider that can check its resources.
type validator interface {
	Validate(ctx context.Context) error
}

// externalCallTimeout bounds the AWS calls of one tick (the SDK retries
// throttling inside it).
const externalCallTimeout = 20 * time.Second

// reobserveEvery is how often settled weights are read again, to notice a
// listener changed by someone else.
const reobserveEvery = 10 * time.Second

// external is one rollout's external traffic state, guarded by its mu.
type external struct {
	pf externalPlatform
	tp traffic.Provider

	want       *traffic.Assignment // last assignment asked of the provider
	set        bool                // Set succeeded for want
	setAt      time.Time           // when it did
	settled    bool                // the read-back equals the honoured want
	observed   *v1alpha1.Weights
	observedAt time.Time
	cleanedAt  time.Time
	waiting    string // what the last tick waits for, for the log
	explain    string // the provider's account of its traffic
}

// validate checks the platform and the traffic provider before anything is
// changed.
func (x *external) validate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, externalCallTimeout)
	defer cancel()
	if err := x.pf.Validate(ctx); err != nil {
		return err
	}
	if v, ok := x.tp.(validator); ok {
		return v.Validate(ctx)
	}
	return nil
}

// honoured is the weight the provider reads back once w is in effect.
func (x *external) honoured(w v1alpha1.Weights) v1alpha1.Weights {
	if q, ok := x.tp.(traffic.Quantizer); ok {
		return q.Honoured(w)
	}
	return w
}

// actExternal is one tick of the loop described above.
func (c *ControlPlane) actExternal(ctx context.Context, r *rollout) {
	x := r.ext
	ctx, cancel := context.WithTimeout(ctx, externalCallTimeout)
	defer cancel()
	name, now := r.spec.Metadata.Name, c.opts.Now()
	wait := func(format string, args ...any) {
		w := fmt.Sprintf(format, args...)
		if w != x.waiting {
			c.log.Info("waiting", "rollout", name, "for", w)
		}
		x.waiting = w
	}
	if err := x.pf.Promote(ctx, r.traffic.StableRevision); err != nil {
		wait("promoting %s: %v", r.traffic.StableRevision, err)
	}
	a, why := c.externalAssignment(r, r.traffic)
	if why == "" && (x.want == nil || !reflect.DeepEqual(*x.want, a)) {
		x.want, x.set, x.settled = &a, false, false
	}
	if x.want == nil {
		wait("%s", why)
		return
	}
	if !x.set {
		if err := x.tp.Set(ctx, *x.want); err != nil {
			wait("setting traffic: %v", err)
			return
		}
		x.set, x.setAt = true, now
	}
	if !x.settled || now.Sub(x.observedAt) >= reobserveEvery {
		w, ok, err := x.tp.Observe(ctx, "", name)
		x.observedAt = now
		switch {
		case err != nil:
			wait("reading the traffic back: %v", err)
			return
		case !ok:
			x.settled = false
			wait("the traffic to be read back as set")
			return
		}
		x.observed = &w
		wasSettled := x.settled
		x.settled = w == x.honoured(x.want.Weights)
		if ex, ok := x.tp.(traffic.Explainer); ok {
			if s, err := ex.Explain(ctx, "", name); err == nil {
				x.explain = s
			}
		}
		if !x.settled {
			// Right after a write ELB may still show the old weights:
			// wait for them. Still wrong after a while, they were changed
			// behind kanaria's back (or lost): set them again.
			if now.Sub(x.setAt) >= reobserveEvery {
				x.set = false
			}
			wait("traffic read back as canary %s, want %s", w.CanaryPPM, x.honoured(x.want.Weights).CanaryPPM)
			return
		}
		if !wasSettled {
			x.cleanedAt = time.Time{}
		}
	}
	if why != "" {
		wait("%s", why)
		return
	}
	if now.Sub(x.cleanedAt) < reobserveEvery {
		return
	}
	x.cleanedAt = now
	c.stopUnwanted(ctx, r)
	x.waiting = ""
}

// stopUnwanted deletes the copies the status no longer names. It runs only
// when the traffic read back is the status's, so no user is sent to them.
func (c *ControlPlane) stopUnwanted(ctx context.Context, r *rollout) {
	x := r.ext
	running, err := x.pf.Running(ctx)
	if err != nil {
		c.log.Warn("listing what runs", "rollout", r.spec.Metadata.Name, "err", err)
		return
	}
	wanted := map[string]bool{}
	for _, in := range desiredInstances(r.spec.Metadata.Name, r.status, c.opts.Now()) {
		wanted[engine.VersionKey(in.Revision, in.Baseline)] = true
	}
	for _, in := range running {
		if wanted[engine.VersionKey(in.Revision, in.Baseline)] {
			continue
		}
		if err := x.pf.Stop(ctx, in); err != nil {
			c.log.Warn("stop failed", "rollout", r.spec.Metadata.Name, "version", engine.VersionKey(in.Revision, in.Baseline), "err", err)
		}
	}
}

// externalAssignment is the provider's assignment for t with the
// platform's endpoints; why says what it waits for instead. A revision that
// would get traffic must be ready: traffic never moves to a task set that
// has not reached its steady state.
func (c *ControlPlane) externalAssignment(r *rollout, t engine.Traffic) (traffic.Assignment, string) {
	name := r.spec.Metadata.Name
	a := traffic.Assignment{Namespace: "default", Rollout: name, Weights: t.Weights}
	var waits []string
	// A canary is left out until it is ready while its weight is 0, so
	// a test listener is not pointed at tasks that do not answer yet.
	side := func(rev string, share v1alpha1.Weight, optional bool) *traffic.Backend {
		s, ok := r.pf().State(platform.Instance{Rollout: name, Revision: rev})
		switch {
		case optional && share == 0 && (!ok || !s.Ready):
			return nil
		case !ok || len(s.Endpoints) == 0:
			waits = append(waits, fmt.Sprintf("%s to run", rev))
			return nil
		case share > 0 && !s.Ready:
			waits = append(waits, fmt.Sprintf("%s to be ready before it gets %s (%s)", rev, share, s.Reason))
		}
		return &traffic.Backend{Revision: rev, Endpoints: s.Endpoints}
	}
	if stable := side(t.StableRevision, v1alpha1.PPM-t.Weights.CanaryPPM, false); stable != nil {
		a.Stable = *stable
	}
	if t.CanaryRevision != "" {
		a.Canary = side(t.CanaryRevision, t.Weights.CanaryPPM, true)
	}
	if len(waits) > 0 {
		return a, "waiting for " + strings.Join(waits, ", ")
	}
	return a, ""
}

// targetGroupsOf resolves revisions to the target groups their task sets
// are registered in, for the cloudwatch metric provider.
type targetGroupsOf struct {
	rollout string
	pf      platform.Platform
}

// TargetGroupOf is the target group of revision's task set.
func (t targetGroupsOf) TargetGroupOf(revision string) (string, bool) {
	s, ok := t.pf.State(platform.Instance{Rollout: t.rollout, Revision: revision})
	if !ok || len(s.Endpoints) == 0 {
		return "", false
	}
	return s.Endpoints[0], true
}
