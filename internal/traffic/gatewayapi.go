package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// GatewayAPIBackendsAnnotation, on an HTTPRoute, records per rollout which
// Service plays which role and every Service kanaria has written into the
// route's rules. It is how a rule stays managed when the stable role moves
// from one Service to another (during a promotion the new stable revision
// answers behind the canary's Service for a while), and how Observe knows
// the roles after a controller restart.
const GatewayAPIBackendsAnnotation = "kanaria.dev/backends"

// GatewayAPI sets a rollout's weights as the backendRef weights of Gateway
// API HTTPRoutes, for clusters that already run a Gateway implementation.
// Weights are written as integers in ppm, which Gateway API allows
// (0..1,000,000, a share of their sum), so 0.1 % is exact.
//
// It manages the rules of the named HTTPRoutes whose backendRefs name one of
// the rollout's Services (the stable one to begin with), and in those only
// the backendRefs: they become the stable, canary and baseline Services with
// their weights. Other rules, matches, filters and the route's parents are
// left as they are. Observe reads the routes back; what a Gateway
// implementation then programs is its own business (Gateway API has no field
// for the weights in effect).
//
// Header routes (setHeaderRoute) become rules of their own, next to each
// managed rule: the same matches with the route's headers added, to the
// canary Service alone (gatewayapi_headers.go). Gateway API gives a match
// with more header matches precedence, so they win over the managed rule
// whatever its weights.
//
// Not Sticky: whether a user stays on one side as the weight grows depends on
// the Gateway implementation (most pick a backend per request or per
// connection). No overrides or version stamps either.
type GatewayAPI struct {
	c      client.Client
	routes []string
}

// NewGatewayAPI returns the provider for a rollout whose spec.traffic is
// gatewayAPI; the routes are in the rollout's namespace. c should read from
// the API server rather than a cache (client.New, or a manager's API
// reader): Set reads a route, changes it and writes it with the
// resourceVersion it read, and a stale cache only makes that conflict.
func NewGatewayAPI(c client.Client, spec v1alpha1.GatewayAPITraffic) *GatewayAPI {
	return &GatewayAPI{c: c, routes: slices.Clone(spec.HTTPRoutes)}
}

// Capabilities: exact ppm and header routes.
func (g *GatewayAPI) Capabilities() []Capability { return []Capability{ExactPPM, HeaderRoutes} }

// routeRoles is one rollout's entry in GatewayAPIBackendsAnnotation.
type routeRoles struct {
	Stable   string `json:"stable"`
	Canary   string `json:"canary,omitempty"`
	Baseline string `json:"baseline,omitempty"`
	// Services is every Service kanaria wrote into the route for the
	// rollout; a rule naming one of them is managed.
	Services []string `json:"services"`
	// HeaderRules names the rules kanaria added for header routes; they
	// are rewritten on every Set and are not managed rules.
	HeaderRules []string `json:"headerRules,omitempty"`
}

// Set writes the assignment into every named HTTPRoute and reads it back.
func (g *GatewayAPI) Set(ctx context.Context, a Assignment) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if len(g.routes) == 0 {
		return fmt.Errorf("rollout %s/%s: spec.traffic.gatewayAPI.httpRoutes names no HTTPRoute", a.Namespace, a.Rollout)
	}
	refs, roles, err := gatewayRefs(a)
	if err != nil {
		return fmt.Errorf("rollout %s/%s: %w", a.Namespace, a.Rollout, err)
	}
	for _, name := range g.routes {
		key := types.NamespacedName{Namespace: a.Namespace, Name: name}
		var stored *gatewayv1.HTTPRoute
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() (err error) {
			stored, err = g.setRoute(ctx, key, a, refs, roles)
			return err
		}); err != nil {
			return err
		}
		// The read-back is the object as the API server stored it (the
		// answer to the update, after defaulting and any webhook).
		got, ok, err := routeWeights(stored, a.Rollout)
		if err != nil {
			return err
		}
		if !ok || got != a.Weights {
			return fmt.Errorf("HTTPRoute %s: read back canary %s, baseline %s after writing %s, %s", key, got.CanaryPPM, got.BaselinePPM, a.Weights.CanaryPPM, a.Weights.BaselinePPM)
		}
		if err := checkHeaderRules(stored, a); err != nil {
			return fmt.Errorf("HTTPRoute %s: %w", key, err)
		}
	}
	return nil
}

// gatewayRefs are the backendRefs a managed rule gets for a, and the roles to
// record.
func gatewayRefs(a Assignment) ([]gatewayv1.HTTPBackendRef, routeRoles, error) {
	ref := func(role string, b Backend, w uint32) (gatewayv1.HTTPBackendRef, string, error) {
		s, err := backendService(role, b, a.Namespace)
		if err != nil {
			return gatewayv1.HTTPBackendRef{}, "", err
		}
		weight := int32(w)
		port := s.Port
		// Group and kind are written out although they are the defaults:
		// the API server stores them filled in, and a repeated Set must find
		// the stored rule equal to the one it would write.
		group, kind := gatewayv1.Group(""), gatewayv1.Kind("Service")
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Group: &group, Kind: &kind, Name: gatewayv1.ObjectName(s.Name), Port: &port,
			},
			Weight: &weight,
		}}, s.Name, nil
	}
	w := a.Weights
	stable, sName, err := ref("stable", a.Stable, uint32(v1alpha1.PPM-w.CanaryPPM-w.BaselinePPM))
	if err != nil {
		return nil, routeRoles{}, err
	}
	refs := []gatewayv1.HTTPBackendRef{stable}
	roles := routeRoles{Stable: sName}
	for _, side := range []struct {
		role string
		b    *Backend
		w    v1alpha1.Weight
		name *string
	}{{"canary", a.Canary, w.CanaryPPM, &roles.Canary}, {"baseline", a.Baseline, w.BaselinePPM, &roles.Baseline}} {
		if side.b == nil {
			continue
		}
		r, n, err := ref(side.role, *side.b, uint32(side.w))
		if err != nil {
			return nil, routeRoles{}, err
		}
		if slices.Contains([]string{roles.Stable, roles.Canary}, n) {
			return nil, routeRoles{}, fmt.Errorf("%s revision %q: Service %s already carries another role", side.role, side.b.Revision, n)
		}
		refs = append(refs, r)
		*side.name = n
	}
	return refs, roles, nil
}

// setRoute rewrites the managed rules of one route and returns the route as
// stored; it writes only when something differs, so a repeated Set leaves
// the resourceVersion alone.
func (g *GatewayAPI) setRoute(ctx context.Context, key types.NamespacedName, a Assignment, refs []gatewayv1.HTTPBackendRef, roles routeRoles) (*gatewayv1.HTTPRoute, error) {
	rollout := a.Rollout
	var route gatewayv1.HTTPRoute
	if err := g.c.Get(ctx, key, &route); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("HTTPRoute %s (spec.traffic.gatewayAPI.httpRoutes) not found: create it with a rule whose backendRefs name the stable Service %s", key, roles.Stable)
		}
		return nil, fmt.Errorf("HTTPRoute %s: %w", key, err)
	}
	all, err := readRoles(&route)
	if err != nil {
		return nil, err
	}
	prev := all[rollout]
	known := slices.Concat(prev.Services, []string{roles.Stable, roles.Canary, roles.Baseline})
	roles.Services = compactNames(known)

	before := route.DeepCopy()
	route.Spec.Rules = withoutRules(route.Spec.Rules, prev.HeaderRules)
	var managed []gatewayv1.HTTPRouteRule
	for i := range route.Spec.Rules {
		rule := &route.Spec.Rules[i]
		if !namesAny(rule.BackendRefs, key.Namespace, roles.Services) {
			continue
		}
		rule.BackendRefs = withFilters(refs, rule.BackendRefs, key.Namespace, prev.Stable, roles.Services)
		managed = append(managed, *rule)
	}
	extra, err := headerRules(a, managed, roles.Canary)
	if err != nil {
		return nil, fmt.Errorf("HTTPRoute %s: %w", key, err)
	}
	route.Spec.Rules = append(route.Spec.Rules, extra...)
	roles.HeaderRules = nil
	for _, r := range extra {
		roles.HeaderRules = append(roles.HeaderRules, string(*r.Name))
	}
	if len(managed) == 0 {
		return nil, fmt.Errorf("HTTPRoute %s has no rule whose backendRefs name the Service %s: kanaria sets the weights of such rules only", key, roles.Stable)
	}
	all[rollout] = roles
	b, err := json.Marshal(all)
	if err != nil {
		return nil, err
	}
	if route.Annotations == nil {
		route.Annotations = map[string]string{}
	}
	route.Annotations[GatewayAPIBackendsAnnotation] = string(b)
	if equalRoutes(before, &route) {
		return before, nil
	}
	if err := g.c.Update(ctx, &route); err != nil {
		return nil, fmt.Errorf("HTTPRoute %s: %w", key, err)
	}
	return &route, nil
}

// equalRoutes compares what setRoute may change. The annotation is compared
// as JSON: a map marshals in key order, so equal records are equal strings.
func equalRoutes(a, b *gatewayv1.HTTPRoute) bool {
	if a.Annotations[GatewayAPIBackendsAnnotation] != b.Annotations[GatewayAPIBackendsAnnotation] {
		return false
	}
	ja, _ := json.Marshal(a.Spec.Rules)
	jb, _ := json.Marshal(b.Spec.Rules)
	return string(ja) == string(jb)
}

// withFilters carries the per-backend filters a user wrote in a managed rule
// over to the refs that replace them: a Service keeps its own ref's filters,
// and a Service new to the rule gets those of the ref that had the stable
// role (else of the first managed ref), so the canary's and the baseline's
// requests are shaped like stable's, and a promotion that moves the stable
// role to another Service does not lose them.
func withFilters(refs, old []gatewayv1.HTTPBackendRef, ns, prevStable string, known []string) []gatewayv1.HTTPBackendRef {
	var inherited []gatewayv1.HTTPRouteFilter
	found := false
	for _, o := range old {
		n, ok := serviceName(o.BackendObjectReference, ns)
		if !ok || !slices.Contains(known, n) {
			continue
		}
		if !found || n == prevStable {
			inherited, found = o.Filters, true
		}
		if n == prevStable {
			break
		}
	}
	out := make([]gatewayv1.HTTPBackendRef, len(refs))
	for i, r := range refs {
		out[i] = *r.DeepCopy()
		out[i].Filters = inherited
		for _, o := range old {
			if n, ok := serviceName(o.BackendObjectReference, ns); ok && n == string(r.Name) {
				out[i].Filters = o.Filters
				break
			}
		}
	}
	return out
}

// readRoles reads GatewayAPIBackendsAnnotation, by rollout name.
func readRoles(route *gatewayv1.HTTPRoute) (map[string]routeRoles, error) {
	all := map[string]routeRoles{}
	if v, ok := route.Annotations[GatewayAPIBackendsAnnotation]; ok {
		if err := json.Unmarshal([]byte(v), &all); err != nil {
			return nil, fmt.Errorf("HTTPRoute %s/%s: annotation %s: %w", route.Namespace, route.Name, GatewayAPIBackendsAnnotation, err)
		}
	}
	return all, nil
}

// Observe reads every named route back. The weights are known when every
// managed rule of every route gives the same shares; a rule's share is its
// weight over the sum of the rule's weights (Gateway API's definition), so a
// rule someone edited by hand is read for what it does.
func (g *GatewayAPI) Observe(ctx context.Context, namespace, rollout string) (v1alpha1.Weights, bool, error) {
	var agreed *v1alpha1.Weights
	for _, name := range g.routes {
		w, ok, err := g.observeRoute(ctx, types.NamespacedName{Namespace: namespace, Name: name}, rollout)
		if err != nil || !ok {
			return v1alpha1.Weights{}, false, err
		}
		if agreed != nil && *agreed != w {
			return v1alpha1.Weights{}, false, nil
		}
		agreed = &w
	}
	if agreed == nil {
		return v1alpha1.Weights{}, false, nil
	}
	return *agreed, true, nil
}

// observeRoute reads one route's managed rules; ok is false when kanaria has
// not written the route yet or its rules disagree.
func (g *GatewayAPI) observeRoute(ctx context.Context, key types.NamespacedName, rollout string) (v1alpha1.Weights, bool, error) {
	var route gatewayv1.HTTPRoute
	if err := g.c.Get(ctx, key, &route); err != nil {
		if apierrors.IsNotFound(err) {
			return v1alpha1.Weights{}, false, fmt.Errorf("HTTPRoute %s (spec.traffic.gatewayAPI.httpRoutes) not found", key)
		}
		return v1alpha1.Weights{}, false, fmt.Errorf("HTTPRoute %s: %w", key, err)
	}
	return routeWeights(&route, rollout)
}

// routeWeights is the shares the route's rules managed for rollout give;
// ok is false when there are none or they disagree.
func routeWeights(route *gatewayv1.HTTPRoute, rollout string) (v1alpha1.Weights, bool, error) {
	all, err := readRoles(route)
	if err != nil {
		return v1alpha1.Weights{}, false, err
	}
	roles, ok := all[rollout]
	if !ok {
		return v1alpha1.Weights{}, false, nil
	}
	var agreed *v1alpha1.Weights
	for _, rule := range route.Spec.Rules {
		if !namesAny(rule.BackendRefs, route.Namespace, roles.Services) || isRule(rule, roles.HeaderRules) {
			continue
		}
		w, ok := ruleShares(rule.BackendRefs, route.Namespace, roles)
		if !ok || (agreed != nil && *agreed != w) {
			return v1alpha1.Weights{}, false, nil
		}
		agreed = &w
	}
	if agreed == nil {
		return v1alpha1.Weights{}, false, nil
	}
	return *agreed, true, nil
}

// ruleShares is the canary's and the baseline's share of one rule in ppm,
// rounded to the nearest; ok is false when the rule sends nothing anywhere.
func ruleShares(refs []gatewayv1.HTTPBackendRef, ns string, roles routeRoles) (v1alpha1.Weights, bool) {
	var sum, canary, baseline uint64
	for _, r := range refs {
		w := uint64(1) // Gateway API's default weight
		if r.Weight != nil {
			w = uint64(max(*r.Weight, 0))
		}
		sum += w
		n, ok := serviceName(r.BackendObjectReference, ns)
		switch {
		case !ok:
		case roles.Canary != "" && n == roles.Canary:
			canary += w
		case roles.Baseline != "" && n == roles.Baseline:
			baseline += w
		}
	}
	if sum == 0 {
		return v1alpha1.Weights{}, false
	}
	share := func(w uint64) v1alpha1.Weight { return v1alpha1.Weight((w*v1alpha1.PPM + sum/2) / sum) }
	return v1alpha1.Weights{CanaryPPM: share(canary), BaselinePPM: share(baseline)}, true
}

// namesAny reports whether a backendRef names one of the Services in ns.
func namesAny(refs []gatewayv1.HTTPBackendRef, ns string, services []string) bool {
	for _, r := range refs {
		if n, ok := serviceName(r.BackendObjectReference, ns); ok && slices.Contains(services, n) {
			return true
		}
	}
	return false
}

// serviceName is the name of the Service a reference points at in ns; ok is
// false for another kind or another namespace.
func serviceName(r gatewayv1.BackendObjectReference, ns string) (string, bool) {
	if r.Group != nil && *r.Group != "" && *r.Group != "core" {
		return "", false
	}
	if r.Kind != nil && *r.Kind != "Service" {
		return "", false
	}
	if r.Namespace != nil && string(*r.Namespace) != ns {
		return "", false
	}
	return string(r.Name), true
}

// compactNames sorts names and drops duplicates and empty ones.
func compactNames(names []string) []string {
	out := slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
