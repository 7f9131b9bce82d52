package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// TrafficStatusStore reads and writes a Rollout's status.traffic and nothing
// else of it. The router provider goes through it so that the rest of the
// status stays the controller's: the controller writes the engine's status
// first, then carries out the actions, one of which is the router
// provider's Set writing status.traffic. RolloutStatusStore is the store on
// the Rollout objects of an API server.
type TrafficStatusStore interface {
	// Traffic returns the rollout's status.traffic; nil when there is none.
	Traffic(ctx context.Context, namespace, rollout string) (*v1alpha1.TrafficStatus, error)
	// SetTraffic replaces the rollout's status.traffic with t.
	SetTraffic(ctx context.Context, namespace, rollout string, t *v1alpha1.TrafficStatus) error
}

// Router is the provider for kanaria's own router running in the cluster
// (`kanaria router --kubernetes`, one or more replicas). Set writes the
// assignment into the Rollout's status.traffic, with a generation that grows
// with every change; each router replica follows the Rollouts, applies the
// assignment with the Services' ready endpoints, and reports what it
// applied in its Lease (routerlease.go). Observe counts a rollout's weights
// as read back only when every live replica reports the generation last
// written: a replica whose Lease has expired is not counted, and one still
// on an older generation means not yet.
//
// The router gives ppm weights, stickiness that is the same on every
// replica (a shared salt), tester overrides, version stamps and header
// routes.
type Router struct {
	store          TrafficStatusStore
	leases         client.Reader
	leaseNamespace string
	now            func() time.Time
}

// NewRouter returns the router provider. Router Leases are read from
// leaseNamespace (the router Deployment's namespace) with leases, which may
// be a cache; now is the clock Lease expiry is judged by (nil: time.Now).
func NewRouter(store TrafficStatusStore, leases client.Reader, leaseNamespace string, now func() time.Time) *Router {
	if now == nil {
		now = time.Now
	}
	return &Router{store: store, leases: leases, leaseNamespace: leaseNamespace, now: now}
}

// Capabilities: everything but Approximate.
func (r *Router) Capabilities() []Capability {
	return []Capability{Sticky, ExactPPM, Overrides, VersionStamps, HeaderRoutes}
}

// RouterTraffic is the status.traffic for a after prev: a's backends,
// weights and header routes, with prev's generation when nothing differs and the next one
// when something does.
func RouterTraffic(prev *v1alpha1.TrafficStatus, a Assignment) *v1alpha1.TrafficStatus {
	backend := func(b *Backend) *v1alpha1.BackendStatus {
		if b == nil {
			return nil
		}
		return &v1alpha1.BackendStatus{Revision: b.Revision, Endpoints: slices.Clone(b.Endpoints)}
	}
	next := &v1alpha1.TrafficStatus{
		Stable:   *backend(&a.Stable),
		Canary:   backend(a.Canary),
		Baseline: backend(a.Baseline),
		Weights:  a.Weights,
	}
	for _, h := range a.HeaderRoutes {
		next.HeaderRoutes = append(next.HeaderRoutes, *h.DeepCopy())
	}
	if prev == nil {
		next.Generation = 1
		return next
	}
	next.Generation = prev.Generation
	if !sameTraffic(prev, next) {
		next.Generation++
	}
	return next
}

// sameTraffic compares two assignments, generations aside.
func sameTraffic(a, b *v1alpha1.TrafficStatus) bool {
	ja, _ := json.Marshal(v1alpha1.TrafficStatus{Stable: a.Stable, Canary: a.Canary, Baseline: a.Baseline, Weights: a.Weights, HeaderRoutes: a.HeaderRoutes})
	jb, _ := json.Marshal(v1alpha1.TrafficStatus{Stable: b.Stable, Canary: b.Canary, Baseline: b.Baseline, Weights: b.Weights, HeaderRoutes: b.HeaderRoutes})
	return string(ja) == string(jb)
}

// Set writes a into the rollout's status.traffic; an unchanged assignment
// is not written again (its generation stays, so replicas that applied it
// still count).
func (r *Router) Set(ctx context.Context, a Assignment) error {
	if err := a.Validate(); err != nil {
		return err
	}
	prev, err := r.store.Traffic(ctx, a.Namespace, a.Rollout)
	if err != nil {
		return err
	}
	next := RouterTraffic(prev, a)
	if prev != nil && next.Generation == prev.Generation {
		return nil
	}
	return r.store.SetTraffic(ctx, a.Namespace, a.Rollout, next)
}

// routerView is what the live router replicas say about one rollout.
type routerView struct {
	want    *v1alpha1.TrafficStatus
	live    int
	applied []AppliedTraffic // of the live replicas at want's generation
	behind  []string         // one line per live replica not there
}

// view reads status.traffic and the router Leases.
func (r *Router) view(ctx context.Context, namespace, rollout string) (routerView, error) {
	var v routerView
	want, err := r.store.Traffic(ctx, namespace, rollout)
	if err != nil {
		return v, err
	}
	v.want = want
	var list coordinationv1.LeaseList
	if err := r.leases.List(ctx, &list, client.InNamespace(r.leaseNamespace), client.MatchingLabels{RouterComponentLabel: RouterComponent}); err != nil {
		return v, fmt.Errorf("listing router Leases in %s: %w", r.leaseNamespace, err)
	}
	now := r.now()
	key := RolloutKey(namespace, rollout)
	for i := range list.Items {
		l := &list.Items[i]
		if !LeaseLive(l, now) {
			continue
		}
		v.live++
		rep, err := ParseRouterReport(l.Annotations)
		if err != nil {
			v.behind = append(v.behind, fmt.Sprintf("%s: %v", l.Name, err))
			continue
		}
		at, ok := rep.Rollouts[key]
		switch {
		case want == nil:
		case !ok:
			v.behind = append(v.behind, l.Name+": does not serve the rollout")
		case at.Generation != want.Generation:
			v.behind = append(v.behind, fmt.Sprintf("%s: at generation %d", l.Name, at.Generation))
		default:
			v.applied = append(v.applied, at)
		}
	}
	return v, nil
}

// LeaseLive reports whether a router Lease counts: renewed less than its
// duration ago.
func LeaseLive(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// Observe is the weights every live router replica applied for the
// rollout's current status.traffic. ok is false when nothing was set yet,
// no replica is live, a live replica has not applied the current generation,
// or the replicas disagree. The weights are the ones the replicas serve: a
// replica that found no ready endpoint for the canary serves it 0, and says
// so.
func (r *Router) Observe(ctx context.Context, namespace, rollout string) (v1alpha1.Weights, bool, error) {
	v, err := r.view(ctx, namespace, rollout)
	if err != nil || v.want == nil || v.live == 0 || len(v.behind) > 0 {
		return v1alpha1.Weights{}, false, err
	}
	w := v1alpha1.Weights{CanaryPPM: v.applied[0].Canary, BaselinePPM: v.applied[0].Baseline}
	for _, at := range v.applied[1:] {
		if at.Canary != w.CanaryPPM || at.Baseline != w.BaselinePPM {
			return v1alpha1.Weights{}, false, nil
		}
	}
	return w, true, nil
}

// Explain says how far the router replicas are: "2 of 3 live router
// replicas applied generation 7 (kanaria-router-b: at generation 6)".
func (r *Router) Explain(ctx context.Context, namespace, rollout string) (string, error) {
	v, err := r.view(ctx, namespace, rollout)
	switch {
	case err != nil:
		return "", err
	case v.want == nil:
		return "", nil
	case v.live == 0:
		return fmt.Sprintf("no live router replica (no renewed Lease labelled %s=%s in %s)", RouterComponentLabel, RouterComponent, r.leaseNamespace), nil
	}
	s := fmt.Sprintf("%d of %d live router replicas applied generation %d", len(v.applied), v.live, v.want.Generation)
	if len(v.behind) > 0 {
		slices.Sort(v.behind)
		s += " (" + strings.Join(v.behind, "; ") + ")"
	}
	return s, nil
}

// RolloutStatusStore is the TrafficStatusStore on kanaria.dev Rollouts.
// Its write is a merge patch of status.traffic alone through the status
// subresource: it changes no other field, and a controller's status update
// made from an object read before it fails on the resourceVersion instead
// of undoing it.
type RolloutStatusStore struct {
	Client client.Client
}

// Traffic reads the Rollout's status.traffic.
func (s RolloutStatusStore) Traffic(ctx context.Context, namespace, rollout string) (*v1alpha1.TrafficStatus, error) {
	var ro kanariav1alpha1.Rollout
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: rollout}, &ro); err != nil {
		return nil, fmt.Errorf("rollout %s/%s: %w", namespace, rollout, err)
	}
	return ro.Status.Traffic, nil
}

// SetTraffic replaces the Rollout's status.traffic.
func (s RolloutStatusStore) SetTraffic(ctx context.Context, namespace, rollout string, t *v1alpha1.TrafficStatus) error {
	var value any // JSON null removes status.traffic
	if t != nil {
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		// A merge patch keeps what it does not name: a role that is gone
		// must be named, as null, to be removed.
		for _, role := range []string{"stable", "canary", "baseline"} {
			b, ok := m[role].(map[string]any)
			if !ok {
				m[role] = nil
				continue
			}
			if _, ok := b["endpoints"]; !ok {
				b["endpoints"] = nil
			}
		}
		value = m
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"traffic": value}})
	if err != nil {
		return err
	}
	ro := &kanariav1alpha1.Rollout{}
	ro.Namespace, ro.Name = namespace, rollout
	if err := s.Client.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("rollout %s/%s: writing status.traffic: %w", namespace, rollout, err)
	}
	return nil
}
