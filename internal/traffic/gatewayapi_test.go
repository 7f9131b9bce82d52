package traffic

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

// No Gateway implementation runs in these tests (none installs here): the
// provider is tested on the HTTPRoute objects it writes into a real API
// server with the Gateway API standard CRDs, and reads back.

// gatewayEnv starts an API server with the Gateway API CRDs.
func gatewayEnv(t *testing.T) *kube.Env {
	t.Helper()
	return kube.Start(t, kube.Options{CRDDirs: []string{kube.GatewayAPICRDs(t)}})
}

// newNamespace creates a namespace for one subtest.
func newNamespace(t *testing.T, c client.Client, name string) string {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

// backendRef is a Service reference as a user writes it.
func backendRef(name string, port int32, weight *int32) gatewayv1.HTTPBackendRef {
	p := port
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: &p},
		Weight:                 weight,
	}}
}

// userRoute is an HTTPRoute as a user writes it before the first release:
// "/" to the stable Service, "/admin" to another Service that kanaria must
// leave alone, with a request-header filter on the stable backendRef.
func userRoute(ns, name string) *gatewayv1.HTTPRoute {
	prefix := gatewayv1.PathMatchPathPrefix
	root, admin := "/", "/admin"
	stable := backendRef("web-stable", 8080, nil)
	stable.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "X-From-Gateway", Value: "yes"}},
		},
	}}
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "shop-gateway"}}},
			Hostnames:       []gatewayv1.Hostname{"shop.example.com"},
			Rules: []gatewayv1.HTTPRouteRule{
				{
					Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &admin}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{backendRef("admin", 80, nil)},
				},
				{
					Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &root}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{stable},
				},
			},
		},
	}
}

// refWeights is a rule's backendRefs as "name=weight" in order.
func refWeights(refs []gatewayv1.HTTPBackendRef) string {
	var out []string
	for _, r := range refs {
		w := "default"
		if r.Weight != nil {
			w = strconv.Itoa(int(*r.Weight))
		}
		out = append(out, string(r.Name)+"="+w)
	}
	return strings.Join(out, ",")
}

func getRoute(t *testing.T, c client.Client, ns, name string) *gatewayv1.HTTPRoute {
	t.Helper()
	var r gatewayv1.HTTPRoute
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func observe(t *testing.T, p Provider, ns string) (v1alpha1.Weights, bool) {
	t.Helper()
	w, ok, err := p.Observe(context.Background(), ns, "web")
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return w, ok
}

// TestGatewayAPIRelease walks a release through one HTTPRoute: the managed
// rule's backendRefs carry ppm weights the API server accepts (0.1 % is
// exact), the other rule, the matches, the parents and the user's filter
// stay, a repeated Set writes nothing, and the rule stays managed while the
// stable role moves from the stable Service to the canary's and back
// (promotion in place).
func TestGatewayAPIRelease(t *testing.T) {
	env := gatewayEnv(t)
	ctx := context.Background()
	ns := newNamespace(t, env.Client, "shop")
	orig := userRoute(ns, "web")
	if err := env.Client.Create(ctx, orig); err != nil {
		t.Fatal(err)
	}
	before := getRoute(t, env.Client, ns, "web")
	p := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}})

	if !Has(p, ExactPPM) || Has(p, Sticky) {
		t.Errorf("capabilities %v: want ExactPPM and not Sticky", p.Capabilities())
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("Observe before any Set: ok, want not known")
	}

	if err := p.Set(ctx, release(ns, 1000, 0)); err != nil {
		t.Fatal(err)
	}
	r := getRoute(t, env.Client, ns, "web")
	if got := refWeights(r.Spec.Rules[1].BackendRefs); got != "web-stable=999000,web-canary=1000" {
		t.Errorf("managed rule at 0.1 %%: %s", got)
	}
	for _, ref := range r.Spec.Rules[1].BackendRefs {
		if f := ref.Filters; len(f) != 1 || f[0].RequestHeaderModifier.Set[0].Name != "X-From-Gateway" {
			t.Errorf("backendRef %s lacks the user's filter of the stable backendRef: %+v", ref.Name, f)
		}
	}
	if got := refWeights(r.Spec.Rules[0].BackendRefs); got != refWeights(before.Spec.Rules[0].BackendRefs) {
		t.Errorf("unmanaged rule changed: %s", got)
	}
	mustJSONEqual(t, "matches", before.Spec.Rules[1].Matches, r.Spec.Rules[1].Matches)
	mustJSONEqual(t, "parents", before.Spec.ParentRefs, r.Spec.ParentRefs)
	mustJSONEqual(t, "hostnames", before.Spec.Hostnames, r.Spec.Hostnames)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 1000}) {
		t.Errorf("Observe at 0.1 %%: %+v, %v", w, ok)
	}

	rv := r.ResourceVersion
	if err := p.Set(ctx, release(ns, 1000, 0)); err != nil {
		t.Fatal(err)
	}
	if got := getRoute(t, env.Client, ns, "web").ResourceVersion; got != rv {
		t.Errorf("repeated Set wrote the route: resourceVersion %s -> %s", rv, got)
	}

	// With a baseline beside the canary, and all three at the API's bounds.
	if err := p.Set(ctx, release(ns, 333333, 333333)); err != nil {
		t.Fatal(err)
	}
	if got := refWeights(getRoute(t, env.Client, ns, "web").Spec.Rules[1].BackendRefs); got != "web-stable=333334,web-canary=333333,web-baseline=333333" {
		t.Errorf("with baseline: %s", got)
	}
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 333333, BaselinePPM: 333333}) {
		t.Errorf("Observe with baseline: %+v, %v", w, ok)
	}
	if err := p.Set(ctx, release(ns, v1alpha1.PPM, 0)); err != nil {
		t.Fatalf("100 %% canary (weight 1,000,000): %v", err)
	}

	// Promotion: v2 is stable, served behind the canary's Service while
	// the target rolls; then behind the stable Service again.
	promoted := Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v2", Endpoints: []string{svcURL("web-canary", ns)}}}
	if err := p.Set(ctx, promoted); err != nil {
		t.Fatal(err)
	}
	if got := refWeights(getRoute(t, env.Client, ns, "web").Spec.Rules[1].BackendRefs); got != "web-canary=1000000" {
		t.Errorf("promoted, v2 behind the canary Service: %s", got)
	}
	promoted.Stable.Endpoints = []string{svcURL("web-stable", ns)}
	if err := p.Set(ctx, promoted); err != nil {
		t.Fatalf("stable back behind web-stable: %v", err)
	}
	r = getRoute(t, env.Client, ns, "web")
	if got := refWeights(r.Spec.Rules[1].BackendRefs); got != "web-stable=1000000" {
		t.Errorf("promoted, v2 behind the stable Service: %s", got)
	}
	if f := r.Spec.Rules[1].BackendRefs[0].Filters; len(f) != 1 {
		t.Errorf("the user's filter did not follow the stable role through the promotion: %+v", f)
	}
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{}) {
		t.Errorf("Observe after promotion: %+v, %v", w, ok)
	}
}

func mustJSONEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("%s changed:\nbefore %s\n after %s", what, a, b)
	}
}

// TestGatewayAPIReadsWhatRoutesDo: Observe reports what the routes send
// where, not what kanaria last wrote: a rule edited by hand is read by
// Gateway API's rule (weight over the rule's sum), two routes that disagree
// are not a read-back, and a route kanaria never wrote is unknown.
func TestGatewayAPIReadsWhatRoutesDo(t *testing.T) {
	env := gatewayEnv(t)
	ctx := context.Background()
	ns := newNamespace(t, env.Client, "shop")
	for _, name := range []string{"web", "web-internal"} {
		if err := env.Client.Create(ctx, userRoute(ns, name)); err != nil {
			t.Fatal(err)
		}
	}
	p := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web", "web-internal"}})
	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "web-internal"} {
		if got := refWeights(getRoute(t, env.Client, ns, name).Spec.Rules[1].BackendRefs); got != "web-stable=900000,web-canary=100000" {
			t.Errorf("%s at 10 %%: %s", name, got)
		}
	}
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 100000}) {
		t.Errorf("Observe at 10 %%: %+v, %v", w, ok)
	}

	three, one := int32(3), int32(1)
	r := getRoute(t, env.Client, ns, "web-internal")
	r.Spec.Rules[1].BackendRefs[0].Weight = &three
	r.Spec.Rules[1].BackendRefs[1].Weight = &one
	if err := env.Client.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("routes at 10 % and 25 %: Observe ok, want not settled")
	}
	only := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web-internal"}})
	if w, ok := observe(t, only, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 250000}) {
		t.Errorf("a rule edited to 3:1: %+v, %v; want 25 %%", w, ok)
	}

	// Set puts the edited route right again.
	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 100000}) {
		t.Errorf("after Set again: %+v, %v", w, ok)
	}

	fresh := newNamespace(t, env.Client, "fresh")
	if err := env.Client.Create(ctx, userRoute(fresh, "web")); err != nil {
		t.Fatal(err)
	}
	if _, ok := observe(t, NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}}), fresh); ok {
		t.Error("a route kanaria never wrote: Observe ok")
	}
}

// TestGatewayAPIRefuses: a missing HTTPRoute, a route with no rule for the
// stable Service and an impossible assignment are clear errors, and leave
// the routes as they were.
func TestGatewayAPIRefuses(t *testing.T) {
	env := gatewayEnv(t)
	ctx := context.Background()
	ns := newNamespace(t, env.Client, "shop")
	other := userRoute(ns, "other")
	other.Spec.Rules = other.Spec.Rules[:1] // only /admin
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	rv := getRoute(t, env.Client, ns, "other").ResourceVersion

	for _, c := range []struct {
		name   string
		routes []string
		a      Assignment
		want   string
	}{
		{"missing route", []string{"web"}, release(ns, 1000, 0), `HTTPRoute shop/web (spec.traffic.gatewayAPI.httpRoutes) not found`},
		{"no managed rule", []string{"other"}, release(ns, 1000, 0), `HTTPRoute shop/other has no rule whose backendRefs name the Service web-stable`},
		{"above 100 %", []string{"other"}, release(ns, 600000, 600000), `canary 60% and baseline 60% exceed 100%`},
		{"weight without canary", []string{"other"}, Assignment{Namespace: ns, Rollout: "web", Stable: release(ns, 0, 0).Stable, Weights: v1alpha1.Weights{CanaryPPM: 1}}, `canary weight 0.0001% but no canary`},
		{"not a Service URL", []string{"other"}, Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v1", Endpoints: []string{"http://198.18.0.1:8080"}}}, `is not a Service URL`},
		{"another namespace", []string{"other"}, Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v1", Endpoints: []string{svcURL("web-stable", "elsewhere")}}}, `Service web-stable is in namespace elsewhere, not the rollout's shop`},
	} {
		err := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: c.routes}).Set(ctx, c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if got := getRoute(t, env.Client, ns, "other").ResourceVersion; got != rv {
		t.Errorf("a refused Set wrote the route: resourceVersion %s -> %s", rv, got)
	}
	if _, _, err := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}}).Observe(ctx, ns, "web"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Observe of a missing route: %v", err)
	}
}
