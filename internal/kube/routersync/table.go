package routersync

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// world is what a table is built from: the cache's objects, read only.
type world struct {
	rollouts []*kanariav1alpha1.Rollout
	services map[types.NamespacedName]*corev1.Service
	// slices are keyed by the Service they belong to (their
	// kubernetes.io/service-name label).
	slices map[types.NamespacedName][]*discoveryv1.EndpointSlice
	salt   string
	// overridesOff and overrideSecret are the table's override settings
	// (Syncer.overrides).
	overridesOff   bool
	overrideSecret string
}

// built is a table and what it means per Rollout.
type built struct {
	cfg router.Config
	// applied holds, per traffic.RolloutKey, what the table serves; a Rollout
	// missing here is not served.
	applied map[string]traffic.AppliedTraffic
	// problems say, one line each, why something in the API server is not
	// (or not wholly) in the table.
	problems []string
}

// build makes the whole routing table from w on top of base (listeners,
// timeouts, header names: what the command line says). It never fails: a
// Rollout that cannot be served is left out with a problem saying why, so
// one bad Rollout never holds back the others.
func build(base router.Config, w world) built {
	b := built{cfg: base, applied: map[string]traffic.AppliedTraffic{}}
	b.cfg.Key.Salt = w.salt
	b.cfg.Overrides.Disabled, b.cfg.Overrides.Secret = w.overridesOff, w.overrideSecret
	b.cfg.Routes, b.cfg.Releases = nil, nil

	// Oldest first: the older Rollout keeps a contested route and sets the
	// key, which is what the replicas must agree on, so the order must not
	// depend on the order of a watch.
	rollouts := slices.Clone(w.rollouts)
	slices.SortFunc(rollouts, func(a, c *kanariav1alpha1.Rollout) int {
		if n := a.CreationTimestamp.Time.Compare(c.CreationTimestamp.Time); n != 0 {
			return n
		}
		return cmp.Or(strings.Compare(a.Namespace, c.Namespace), strings.Compare(a.Name, c.Name))
	})

	taken := map[[2]string]string{} // lower-case host, path prefix → rollout key
	var keyFrom string              // the rollout whose key the router uses
	for _, ro := range rollouts {
		key := traffic.RolloutKey(ro.Namespace, ro.Name)
		t := ro.Status.Traffic
		if t == nil {
			continue // the controller has not assigned traffic yet
		}
		rel, at, err := w.release(ro)
		if err != nil {
			b.problems = append(b.problems, fmt.Sprintf("rollout %s: %v", key, err))
			continue
		}
		var routes []router.Route
		hosts := ro.Spec.Route.Hosts
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		prefix := cmp.Or(ro.Spec.Route.PathPrefix, "/")
		for _, h := range hosts {
			routes = append(routes, router.Route{Host: h, PathPrefix: prefix, Release: rel.Name})
		}
		// Checked on its own so that one Rollout's bad host or revision
		// name refuses that Rollout only, not the whole table.
		if err := (router.Config{Routes: routes, Releases: []router.Release{rel}}).Validate(); err != nil {
			b.problems = append(b.problems, fmt.Sprintf("rollout %s: %v", key, err))
			continue
		}
		kept := routes[:0]
		for _, rt := range routes {
			k := [2]string{strings.ToLower(rt.Host), rt.PathPrefix}
			if owner, ok := taken[k]; ok {
				b.problems = append(b.problems, fmt.Sprintf("rollout %s: host %q path prefix %q is already routed to the older rollout %s", key, rt.Host, rt.PathPrefix, owner))
				continue
			}
			taken[k] = key
			kept = append(kept, rt)
		}
		if len(kept) == 0 {
			continue // serves nothing: not reported as applied
		}

		header, cookie := ro.Spec.Route.KeyHeader, ro.Spec.Route.KeyCookie
		switch {
		case header == "" && cookie == "":
		case keyFrom == "":
			b.cfg.Key.Header, b.cfg.Key.Cookie = header, cookie
			keyFrom = key
		case header != b.cfg.Key.Header || cookie != b.cfg.Key.Cookie:
			b.problems = append(b.problems, fmt.Sprintf("rollout %s: key header %q cookie %q not used: the router takes one stickiness key for every rollout, header %q cookie %q from the older rollout %s",
				key, header, cookie, b.cfg.Key.Header, b.cfg.Key.Cookie, keyFrom))
		}

		b.cfg.Releases = append(b.cfg.Releases, rel)
		b.cfg.Routes = append(b.cfg.Routes, kept...)
		at.Generation = t.Generation
		b.applied[key] = at
	}
	return b
}

// release is one Rollout's release as its status.traffic and the Services'
// ready endpoints make it, and the report of what it serves.
func (w world) release(ro *kanariav1alpha1.Rollout) (router.Release, traffic.AppliedTraffic, error) {
	t := ro.Status.Traffic
	if err := t.Weights.CanaryPPM.Validate(); err != nil {
		return router.Release{}, traffic.AppliedTraffic{}, fmt.Errorf("status.traffic.weights.canaryPPM: %w", err)
	}
	if err := t.Weights.BaselinePPM.Validate(); err != nil {
		return router.Release{}, traffic.AppliedTraffic{}, fmt.Errorf("status.traffic.weights.baselinePPM: %w", err)
	}
	if t.Weights.CanaryPPM+t.Weights.BaselinePPM > api.PPM {
		return router.Release{}, traffic.AppliedTraffic{}, fmt.Errorf("status.traffic.weights: canary %s and baseline %s exceed 100%%", t.Weights.CanaryPPM, t.Weights.BaselinePPM)
	}
	at := traffic.AppliedTraffic{StableRevision: t.Stable.Revision, Endpoints: map[string]int{}}
	stable, err := w.endpoints(ro.Namespace, t.Stable)
	if err != nil {
		return router.Release{}, at, fmt.Errorf("status.traffic.stable: %w", err)
	}
	at.Endpoints[string(router.Stable)] = len(stable)
	if len(stable) == 0 {
		return router.Release{}, at, fmt.Errorf("stable revision %q has no ready endpoint", t.Stable.Revision)
	}
	rel := router.Release{
		Name:   traffic.RouterReleaseName(ro.Namespace, ro.Name),
		Stable: router.Backend{Revision: t.Stable.Revision, Endpoints: stable},
	}
	if t.Canary != nil {
		eps, err := w.endpoints(ro.Namespace, *t.Canary)
		if err != nil {
			return router.Release{}, at, fmt.Errorf("status.traffic.canary: %w", err)
		}
		at.Endpoints[string(router.Canary)] = len(eps)
		if len(eps) > 0 {
			rel.Canary = &router.Backend{Revision: t.Canary.Revision, Endpoints: eps}
			rel.CanaryWeight = t.Weights.CanaryPPM
			rel.HeaderRoutes = t.HeaderRoutes
			at.CanaryRevision, at.Canary = t.Canary.Revision, t.Weights.CanaryPPM
		}
	}
	if t.Baseline != nil {
		eps, err := w.endpoints(ro.Namespace, *t.Baseline)
		if err != nil {
			return router.Release{}, at, fmt.Errorf("status.traffic.baseline: %w", err)
		}
		at.Endpoints[string(router.Baseline)] = len(eps)
		if len(eps) > 0 {
			rel.Baseline = &router.Backend{Revision: t.Baseline.Revision, Endpoints: eps}
			rel.BaselineWeight = t.Weights.BaselinePPM
			at.BaselineRevision, at.Baseline = t.Baseline.Revision, t.Weights.BaselinePPM
		}
	}
	return rel, at, nil
}

// endpoints are the ready addresses behind a role's Service URLs, as
// http://<address>:<port> base URLs, sorted (so every replica builds the same
// table, and an unchanged world the same one as before).
func (w world) endpoints(namespace string, b api.BackendStatus) ([]string, error) {
	if len(b.Endpoints) == 0 {
		return nil, fmt.Errorf("revision %q has no Service URL", b.Revision)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range b.Endpoints {
		ref, err := traffic.ParseServiceURL(e)
		if err != nil {
			return nil, err
		}
		name, ns, port := ref.Name, ref.Namespace, ref.Port
		if ns != namespace {
			return nil, fmt.Errorf("Service URL %q is in namespace %s, not the rollout's %s", e, ns, namespace)
		}
		svc := w.services[types.NamespacedName{Namespace: ns, Name: name}]
		if svc == nil {
			return nil, fmt.Errorf("Service %s/%s of %q not found (the router sees only Services labelled %s)", ns, name, e, platform.LabelRollout)
		}
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
		if i < 0 {
			return nil, fmt.Errorf("Service %s/%s has no port %d (from %q)", ns, name, port, e)
		}
		sp := svc.Spec.Ports[i]
		for _, sl := range w.slices[types.NamespacedName{Namespace: ns, Name: name}] {
			if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
				continue // FQDN slices name hosts, not pods
			}
			p, ok := slicePort(sl, sp)
			if !ok {
				continue
			}
			for _, ep := range sl.Endpoints {
				// A nil ready is unknown, which consumers are told to take
				// as ready; terminating pods are not ready.
				if len(ep.Addresses) == 0 || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
					continue
				}
				u := "http://" + net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(p)))
				if !seen[u] { // a pod moving between slices is in both for a moment
					seen[u] = true
					out = append(out, u)
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// slicePort is the port number behind Service port sp in slice sl: the
// slice's port of the same name (the endpoint-slice controller names them
// after the Service's ports and resolves named target ports), else a numeric
// targetPort for a slice written without port names.
func slicePort(sl *discoveryv1.EndpointSlice, sp corev1.ServicePort) (int32, bool) {
	for _, p := range sl.Ports {
		if p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
			continue
		}
		if name := ptrOr(p.Name, ""); name == sp.Name {
			return *p.Port, true
		}
	}
	if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal > 0 && !slices.ContainsFunc(sl.Ports, func(p discoveryv1.EndpointPort) bool { return ptrOr(p.Name, "") != "" }) {
		return sp.TargetPort.IntVal, true
	}
	return 0, false
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
