package routersync

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// fixture builds worlds the way the API server would hold them.
type fixture struct{ w world }

func newFixture() *fixture {
	return &fixture{w: world{
		services: map[types.NamespacedName]*corev1.Service{},
		slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		salt:     "s3cret",
	}}
}

// service adds a Service with one port: port → targetPort, named name.
func (f *fixture) service(ns, name, portName string, port int32, target intstr.IntOrString) {
	f.w.services[types.NamespacedName{Namespace: ns, Name: name}] = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: port, TargetPort: target}}},
	}
}

// slice adds an EndpointSlice of service with one port and the given
// addresses; those in notReady are marked not ready.
func (f *fixture) slice(ns, service, portName string, port int32, addrs []string, notReady ...string) {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: service + "-x"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
	}
	for _, a := range addrs {
		ready := !slices.Contains(notReady, a)
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	k := types.NamespacedName{Namespace: ns, Name: service}
	f.w.slices[k] = append(f.w.slices[k], sl)
}

func (f *fixture) rollout(ns, name string, age time.Duration, route api.Route, t *api.TrafficStatus) {
	ro := &kanariav1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age)),
	}}
	ro.Spec.Route = route
	ro.Status.Traffic = t
	f.w.rollouts = append(f.w.rollouts, ro)
}

func svcURL(name, ns string) []string { return []string{"http://" + name + "." + ns + ".svc:80"} }

// TestBuildRelease: a Rollout's release has the ready addresses of each
// role's Service with the port the Service port's name maps to in the
// slice, the weights of status.traffic, and a report that says so.
func TestBuildRelease(t *testing.T) {
	f := newFixture()
	http := intstr.FromString("http") // a named targetPort: only the slice knows the number
	f.service("shop", "web-stable", "web", 80, http)
	f.service("shop", "web-canary", "web", 80, http)
	f.service("shop", "web-baseline", "web", 80, http)
	f.slice("shop", "web-stable", "web", 9090, []string{"10.0.0.2", "10.0.0.1", "10.0.0.3"}, "10.0.0.3")
	f.slice("shop", "web-stable", "web", 9090, []string{"10.0.0.1"}) // the same pod in two slices for a moment
	f.slice("shop", "web-canary", "web", 9091, []string{"10.0.1.1"})
	f.slice("shop", "web-baseline", "other", 9999, []string{"10.0.2.9"}) // another port's slice: not ours
	f.slice("shop", "web-baseline", "web", 9092, []string{"10.0.2.1"})
	f.rollout("shop", "web", 0, api.Route{Hosts: []string{"shop.example.com", "*.shop.example.com"}, PathPrefix: "/app", KeyHeader: "X-User-Id"}, &api.TrafficStatus{
		Generation: 7,
		Stable:     api.BackendStatus{Revision: "v1", Endpoints: svcURL("web-stable", "shop")},
		Canary:     &api.BackendStatus{Revision: "v2", Endpoints: svcURL("web-canary", "shop")},
		Baseline:   &api.BackendStatus{Revision: "v1", Endpoints: svcURL("web-baseline", "shop")},
		Weights:    api.Weights{CanaryPPM: 1000, BaselinePPM: 1000},
	})
	f.rollout("shop", "no-traffic-yet", time.Hour, api.Route{}, nil)

	b := build(router.Config{Listen: ":8080", VersionHeader: "X-V"}, f.w)
	if len(b.problems) > 0 {
		t.Fatalf("problems: %v", b.problems)
	}
	want := router.Config{
		Listen: ":8080", VersionHeader: "X-V",
		Key: router.KeyConfig{Header: "X-User-Id", Salt: "s3cret"},
		Routes: []router.Route{
			{Host: "shop.example.com", PathPrefix: "/app", Release: "shop.web"},
			{Host: "*.shop.example.com", PathPrefix: "/app", Release: "shop.web"},
		},
		Releases: []router.Release{{
			Name:           "shop.web",
			Stable:         router.Backend{Revision: "v1", Endpoints: []string{"http://10.0.0.1:9090", "http://10.0.0.2:9090"}},
			Canary:         &router.Backend{Revision: "v2", Endpoints: []string{"http://10.0.1.1:9091"}},
			Baseline:       &router.Backend{Revision: "v1", Endpoints: []string{"http://10.0.2.1:9092"}},
			CanaryWeight:   1000,
			BaselineWeight: 1000,
		}},
	}
	if !reflect.DeepEqual(b.cfg, want) {
		t.Errorf("table:\n got %+v\nwant %+v", b.cfg, want)
	}
	wantApplied := map[string]traffic.AppliedTraffic{"shop/web": {
		Generation: 7, StableRevision: "v1", CanaryRevision: "v2", BaselineRevision: "v1",
		Canary: 1000, Baseline: 1000, Endpoints: map[string]int{"stable": 2, "canary": 1, "baseline": 1},
	}}
	if !reflect.DeepEqual(b.applied, wantApplied) {
		t.Errorf("report:\n got %+v\nwant %+v", b.applied, wantApplied)
	}
	if _, err := router.New(b.cfg); err != nil {
		t.Errorf("the router refuses the table: %v", err)
	}
}

// TestBuildRoleWithoutEndpoints: a canary with no ready pod gets no
// weight, and the report says so (weight 0, no pods) instead of the weight
// asked for; a Rollout whose stable has none is left out with a reason.
func TestBuildRoleWithoutEndpoints(t *testing.T) {
	f := newFixture()
	for _, s := range []string{"a-stable", "a-canary", "b-stable"} {
		f.service("ns", s, "http", 80, intstr.FromInt32(8080))
	}
	f.slice("ns", "a-stable", "http", 8080, []string{"10.1.0.1"})
	f.slice("ns", "a-canary", "http", 8080, []string{"10.1.0.2"}, "10.1.0.2")
	f.slice("ns", "b-stable", "http", 8080, nil)
	tr := func(p string) *api.TrafficStatus {
		return &api.TrafficStatus{
			Generation: 3,
			Stable:     api.BackendStatus{Revision: "v1", Endpoints: svcURL(p+"-stable", "ns")},
			Canary:     &api.BackendStatus{Revision: "v2", Endpoints: svcURL(p+"-canary", "ns")},
			Weights:    api.Weights{CanaryPPM: 500_000},
			// A header route to a canary with no ready pod would only
			// produce errors: it goes with the canary.
			HeaderRoutes: []api.SetHeaderRoute{{Name: "beta", Match: []api.HeaderRoutingMatch{{HeaderName: "X-Beta", HeaderValue: api.StringMatch{Exact: "1"}}}}},
		}
	}
	f.rollout("ns", "a", 0, api.Route{Hosts: []string{"a.example"}}, tr("a"))
	f.rollout("ns", "b", 0, api.Route{Hosts: []string{"b.example"}}, tr("b"))
	b := build(router.Config{}, f.w)

	if len(b.cfg.Releases) != 1 || b.cfg.Releases[0].Canary != nil || b.cfg.Releases[0].CanaryWeight != 0 || b.cfg.Releases[0].HeaderRoutes != nil {
		t.Fatalf("releases %+v: want only ns.a, without canary or header routes", b.cfg.Releases)
	}
	got := b.applied["ns/a"]
	if got.Canary != 0 || got.CanaryRevision != "" || got.Endpoints["canary"] != 0 || got.Generation != 3 {
		t.Errorf("report of ns/a %+v: want canary weight 0 with 0 endpoints at generation 3", got)
	}
	if _, ok := b.applied["ns/b"]; ok {
		t.Errorf("ns/b reported as applied without a stable endpoint")
	}
	if len(b.problems) != 1 || !strings.Contains(b.problems[0], `rollout ns/b: stable revision "v1" has no ready endpoint`) {
		t.Errorf("problems %q", b.problems)
	}
}

// TestBuildConflictsAndBadRollouts: the older Rollout keeps a contested
// route and sets the key; a Rollout the router cannot serve is left out
// alone, with the reason, while the others are served.
func TestBuildConflictsAndBadRollouts(t *testing.T) {
	f := newFixture()
	for _, ns := range []string{"one", "two", "three", "four"} {
		f.service(ns, "s", "http", 80, intstr.FromInt32(8080))
		f.slice(ns, "s", "http", 8080, []string{"10.2.0.1"})
	}
	// A slice written without port names, mapped by the numeric targetPort.
	f.service("five", "s", "http", 80, intstr.FromInt32(8081))
	f.slice("five", "s", "", 8081, []string{"10.2.0.5"})
	tr := func(ns, rev string) *api.TrafficStatus {
		return &api.TrafficStatus{Stable: api.BackendStatus{Revision: rev, Endpoints: svcURL("s", ns)}}
	}
	f.rollout("two", "young", time.Minute, api.Route{Hosts: []string{"shared.example", "young.example"}, KeyCookie: "uid"}, tr("two", "v1"))
	f.rollout("one", "old", time.Hour, api.Route{Hosts: []string{"shared.example"}, KeyHeader: "X-User"}, tr("one", "v1"))
	f.rollout("three", "badrev", 2*time.Hour, api.Route{}, tr("three", "has space"))
	f.rollout("four", "elsewhere", 3*time.Hour, api.Route{Hosts: []string{"four.example"}}, &api.TrafficStatus{Stable: api.BackendStatus{Revision: "v1", Endpoints: svcURL("s", "one")}})
	f.rollout("five", "unnamed", 0, api.Route{Hosts: []string{"five.example"}}, tr("five", "v1"))
	b := build(router.Config{}, f.w)

	var names []string
	for _, r := range b.cfg.Releases {
		names = append(names, r.Name)
	}
	if want := []string{"one.old", "two.young", "five.unnamed"}; !slices.Equal(names, want) {
		t.Errorf("releases %v, want %v (oldest first, the bad ones left out)", names, want)
	}
	if want := []router.Route{
		{Host: "shared.example", PathPrefix: "/", Release: "one.old"},
		{Host: "young.example", PathPrefix: "/", Release: "two.young"},
		{Host: "five.example", PathPrefix: "/", Release: "five.unnamed"},
	}; !reflect.DeepEqual(b.cfg.Routes, want) {
		t.Errorf("routes %+v, want %+v", b.cfg.Routes, want)
	}
	if b.cfg.Key.Header != "X-User" || b.cfg.Key.Cookie != "" {
		t.Errorf("key %+v, want the older rollout's header", b.cfg.Key)
	}
	if eps := b.cfg.Releases[2].Stable.Endpoints; !slices.Equal(eps, []string{"http://10.2.0.5:8081"}) {
		t.Errorf("unnamed slice port: endpoints %v", eps)
	}
	for _, want := range []string{
		`rollout three/badrev: releases[0].stable.revision: "has space" must be visible ASCII`,
		`rollout four/elsewhere: status.traffic.stable: Service URL "http://s.one.svc:80" is in namespace one, not the rollout's four`,
		`rollout two/young: host "shared.example" path prefix "/" is already routed to the older rollout one/old`,
		`rollout two/young: key header "" cookie "uid" not used`,
	} {
		if !slices.ContainsFunc(b.problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem containing %q in:\n%s", want, strings.Join(b.problems, "\n"))
		}
	}
	if _, err := router.New(b.cfg); err != nil {
		t.Errorf("the router refuses the table: %v", err)
	}
}
