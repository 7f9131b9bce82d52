package traffic

import (
	"context"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func betaRoute() v1alpha1.SetHeaderRoute {
	return v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Beta", HeaderValue: v1alpha1.StringMatch{Exact: "1"}},
		{HeaderName: "X-Tier", HeaderValue: v1alpha1.StringMatch{Prefix: "gold.1"}},
	}}
}

// TestGatewayAPIHeaderRoutes: a header route becomes a rule of its own
// beside the managed rule, written into a real API server and read back:
// the managed rule's matches with the headers added (a prefix as a
// regular expression), to the canary Service alone, the user's filter
// kept; the weights' read-back ignores it; removing the route (or the end of
// the release) removes the rule, and the user's other rule is untouched.
func TestGatewayAPIHeaderRoutes(t *testing.T) {
	env := gatewayEnv(t)
	ctx := context.Background()
	ns := newNamespace(t, env.Client, "shop")
	if err := env.Client.Create(ctx, userRoute(ns, "web")); err != nil {
		t.Fatal(err)
	}
	before := getRoute(t, env.Client, ns, "web")
	p := NewGatewayAPI(env.Client, v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}})
	if !Has(p, HeaderRoutes) {
		t.Fatalf("capabilities %v lack HeaderRoutes", p.Capabilities())
	}

	a := release(ns, 1000, 0)
	a.HeaderRoutes = []v1alpha1.SetHeaderRoute{betaRoute()}
	if err := p.Set(ctx, a); err != nil {
		t.Fatal(err)
	}
	r := getRoute(t, env.Client, ns, "web")
	if len(r.Spec.Rules) != 3 {
		t.Fatalf("want the user's two rules and one header rule, got %d rules", len(r.Spec.Rules))
	}
	hr := r.Spec.Rules[2]
	if hr.Name == nil || *hr.Name != "kanaria-web-beta-0" {
		t.Fatalf("header rule name %v", hr.Name)
	}
	if got := refWeights(hr.BackendRefs); got != "web-canary=1" {
		t.Errorf("header rule backendRefs: %s, want the canary alone", got)
	}
	if f := hr.BackendRefs[0].Filters; len(f) != 1 || f[0].RequestHeaderModifier == nil {
		t.Errorf("header rule's backendRef lacks the user's filter: %+v", f)
	}
	m := hr.Matches
	if len(m) != 1 || m[0].Path == nil || *m[0].Path.Value != "/" || len(m[0].Headers) != 2 {
		t.Fatalf("header rule matches: %+v", m)
	}
	if h := m[0].Headers[0]; h.Name != "X-Beta" || *h.Type != gatewayv1.HeaderMatchExact || h.Value != "1" {
		t.Errorf("exact header match: %+v", h)
	}
	if h := m[0].Headers[1]; h.Name != "X-Tier" || *h.Type != gatewayv1.HeaderMatchRegularExpression || h.Value != `^gold\.1.*` {
		t.Errorf("prefix header match: %+v (type %s)", h, *h.Type)
	}
	if got := refWeights(r.Spec.Rules[1].BackendRefs); got != "web-stable=999000,web-canary=1000" {
		t.Errorf("managed rule: %s", got)
	}
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 1000}) {
		t.Errorf("Observe with a header rule: %+v, %v (the header rule is not a weight)", w, ok)
	}

	// Again: nothing written.
	rv := r.ResourceVersion
	if err := p.Set(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := getRoute(t, env.Client, ns, "web").ResourceVersion; got != rv {
		t.Errorf("repeated Set wrote the route: %s -> %s", rv, got)
	}

	// A second route and a new weight: two header rules, the managed rule
	// moves, the first header rule stays as it was.
	staff := v1alpha1.SetHeaderRoute{Name: "staff", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-User", HeaderValue: v1alpha1.StringMatch{Regex: "^staff-[0-9]+$"}}}}
	a = release(ns, 10000, 0)
	a.HeaderRoutes = []v1alpha1.SetHeaderRoute{betaRoute(), staff}
	if err := p.Set(ctx, a); err != nil {
		t.Fatal(err)
	}
	r = getRoute(t, env.Client, ns, "web")
	var names []string
	for _, rule := range r.Spec.Rules[2:] {
		names = append(names, string(*rule.Name))
	}
	if strings.Join(names, ",") != "kanaria-web-beta-0,kanaria-web-staff-0" || len(r.Spec.Rules) != 4 {
		t.Fatalf("header rules %v of %d rules", names, len(r.Spec.Rules))
	}
	if w, ok := observe(t, p, ns); !ok || w.CanaryPPM != 10000 {
		t.Errorf("Observe at 1 %%: %+v, %v", w, ok)
	}

	// The routes end with the release: the rules go, the route is as the
	// user wrote it but for the weights.
	if err := p.Set(ctx, Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v1", Endpoints: []string{svcURL("web-stable", ns)}}}); err != nil {
		t.Fatal(err)
	}
	r = getRoute(t, env.Client, ns, "web")
	if len(r.Spec.Rules) != 2 {
		t.Fatalf("after the release: %d rules", len(r.Spec.Rules))
	}
	mustJSONEqual(t, "the user's other rule", before.Spec.Rules[0], r.Spec.Rules[0])
	if got := refWeights(r.Spec.Rules[1].BackendRefs); got != "web-stable=1000000" {
		t.Errorf("managed rule after the release: %s", got)
	}

	// Header routes without a canary are refused before anything is
	// written.
	bad := Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v1", Endpoints: []string{svcURL("web-stable", ns)}}, HeaderRoutes: []v1alpha1.SetHeaderRoute{betaRoute()}}
	if err := p.Set(ctx, bad); err == nil || !strings.Contains(err.Error(), "header route beta but no canary") {
		t.Errorf("header routes without a canary: %v", err)
	}
}

// The replicas provider declares no HeaderRoutes and refuses them: a pod
// ratio cannot look at a request.
func TestReplicasRefusesHeaderRoutes(t *testing.T) {
	p := NewReplicas(nil)
	if Has(p, HeaderRoutes) {
		t.Fatalf("replicas declares HeaderRoutes: %v", p.Capabilities())
	}
	a := release("shop", 0, 0)
	a.HeaderRoutes = []v1alpha1.SetHeaderRoute{betaRoute()}
	if err := p.Set(context.Background(), a); err == nil || !strings.Contains(err.Error(), "cannot route by header") {
		t.Fatalf("Set with header routes: %v", err)
	}
}
