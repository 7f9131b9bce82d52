package traffic

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

// The router tests use a real API server with kanaria's CRD. No router
// process runs here (internal/kube/routersync's tests run real ones): the
// test writes each replica's Lease as a replica would, with
// MarshalRouterReport, and judges expiry with a fixed clock, so nothing
// depends on how fast the test runs.

// routerEnv starts an API server with the Rollout CRD, a namespace for the
// rollout and one for the router replicas, and a Rollout "web".
func routerEnv(t *testing.T) (*kube.Env, string) {
	t.Helper()
	env := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}})
	ns := newNamespace(t, env.Client, "shop")
	newNamespace(t, env.Client, "kanaria-system")
	steps := v1alpha1.Weight(100000)
	ro := &kanariav1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: v1alpha1.RolloutSpec{
			Revision: "v1",
			Platform: v1alpha1.Platform{Kubernetes: &v1alpha1.KubernetesPlatform{
				WorkloadRef: v1alpha1.WorkloadRef{Name: "web"},
				Containers:  []v1alpha1.ContainerTemplate{{Name: "web", Image: "ghcr.io/acme/web:{{.Revision}}"}},
			}},
			Traffic:  &v1alpha1.Traffic{Router: &v1alpha1.RouterTraffic{}},
			Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.Step{{SetWeight: &steps}}}},
		},
	}
	if err := env.Client.Create(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	// The controller writes its status before any action; status.traffic
	// is written beside it.
	ro.Status = v1alpha1.RolloutStatus{Rollout: "web", Phase: v1alpha1.PhaseProgressing, StableRevision: "v1", Message: "the controller's"}
	if err := env.Client.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	return env, ns
}

// now is the fixed clock the tests judge Lease expiry by.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// replicaLease writes the Lease of router replica id as routersync does:
// renewed renewedAgo before now, valid for 15 s, reporting rep.
func replicaLease(t *testing.T, c client.Client, id string, renewedAgo time.Duration, rep RouterReport) {
	t.Helper()
	ctx := context.Background()
	s, err := MarshalRouterReport(rep)
	if err != nil {
		t.Fatal(err)
	}
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "kanaria-system", Name: RouterLeaseName(id),
			Labels:      map[string]string{RouterComponentLabel: RouterComponent},
			Annotations: map[string]string{RouterReportAnnotation: s},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(id),
			LeaseDurationSeconds: ptr.To(int32(15)),
			RenewTime:            &metav1.MicroTime{Time: now.Add(-renewedAgo)},
		},
	}
	var have coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKeyFromObject(l), &have); err == nil {
		l.ResourceVersion = have.ResourceVersion
		if err := c.Update(ctx, l); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := c.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// applied is a report of a replica that applied generation gen of web.
func applied(ns string, gen int64, canary v1alpha1.Weight) RouterReport {
	return RouterReport{Rollouts: map[string]AppliedTraffic{RolloutKey(ns, "web"): {
		Generation: gen, StableRevision: "v1", CanaryRevision: "v2", Canary: canary,
		Endpoints: map[string]int{"stable": 3, "canary": 1},
	}}}
}

func rollout(t *testing.T, c client.Client, ns string) *kanariav1alpha1.Rollout {
	t.Helper()
	var ro kanariav1alpha1.Rollout
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, &ro); err != nil {
		t.Fatal(err)
	}
	return &ro
}

// TestRouterSetWritesStatusTraffic: Set writes the assignment, and only it,
// into the Rollout's status.traffic; the generation grows with each change
// and stays for a repeat (no write); a role that goes away is removed.
func TestRouterSetWritesStatusTraffic(t *testing.T) {
	env, ns := routerEnv(t)
	ctx := context.Background()
	c := env.Client

	p := NewRouter(RolloutStatusStore{Client: c}, c, "kanaria-system", func() time.Time { return now })
	for _, cap := range []Capability{Sticky, ExactPPM, Overrides, VersionStamps, HeaderRoutes} {
		if !Has(p, cap) {
			t.Errorf("router lacks %s", cap)
		}
	}
	if Has(p, Approximate) {
		t.Error("router declares Approximate")
	}

	if err := p.Set(ctx, release(ns, 1000, 1000)); err != nil {
		t.Fatal(err)
	}
	ro := rollout(t, c, ns)
	tr := ro.Status.Traffic
	if tr == nil || tr.Generation != 1 || tr.Stable.Endpoints[0] != svcURL("web-stable", ns) ||
		tr.Canary == nil || tr.Canary.Revision != "v2" || tr.Baseline == nil || tr.Weights != (v1alpha1.Weights{CanaryPPM: 1000, BaselinePPM: 1000}) {
		b, _ := json.Marshal(tr)
		t.Fatalf("status.traffic %s", b)
	}
	if ro.Status.Phase != v1alpha1.PhaseProgressing || ro.Status.Message != "the controller's" {
		t.Errorf("Set changed the controller's status fields: phase %q message %q", ro.Status.Phase, ro.Status.Message)
	}

	rv := ro.ResourceVersion
	if err := p.Set(ctx, release(ns, 1000, 1000)); err != nil {
		t.Fatal(err)
	}
	if got := rollout(t, c, ns).ResourceVersion; got != rv {
		t.Errorf("repeated Set wrote: resourceVersion %s -> %s", rv, got)
	}

	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	tr = rollout(t, c, ns).Status.Traffic
	if tr.Generation != 2 || tr.Baseline != nil || tr.Weights != (v1alpha1.Weights{CanaryPPM: 100000}) {
		b, _ := json.Marshal(tr)
		t.Errorf("after the baseline went: status.traffic %s; want generation 2, no baseline, canary 10 %%", b)
	}
	noBaseline := release(ns, 0, 0)
	noBaseline.Weights.BaselinePPM = 600000
	if err := p.Set(ctx, noBaseline); err == nil || !strings.Contains(err.Error(), "baseline weight 60% but no baseline") {
		t.Errorf("baseline weight without a baseline: %v", err)
	}
}

// TestRouterObserve: the weights count as read back only when every live
// replica applied the generation last written; an expired Lease does not
// count, a replica behind or missing the rollout means not yet, and the
// weights are what the replicas serve.
func TestRouterObserve(t *testing.T) {
	env, ns := routerEnv(t)
	ctx := context.Background()
	c := env.Client
	p := NewRouter(RolloutStatusStore{Client: c}, c, "kanaria-system", func() time.Time { return now })

	if _, ok := observe(t, p, ns); ok {
		t.Error("Observe with no status.traffic: ok")
	}
	if err := p.Set(ctx, release(ns, 1000, 0)); err != nil {
		t.Fatal(err)
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("Observe with no router replica: ok")
	}
	if s, _ := p.Explain(ctx, ns, "web"); !strings.Contains(s, "no live router replica") {
		t.Errorf("Explain with no replica: %q", s)
	}

	replicaLease(t, c, "a", 2*time.Second, applied(ns, 1, 1000))
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 1000}) {
		t.Errorf("one replica at generation 1: %+v, %v", w, ok)
	}

	// A second replica that has not served the rollout yet holds it back.
	replicaLease(t, c, "b", time.Second, RouterReport{})
	if _, ok := observe(t, p, ns); ok {
		t.Error("a live replica without the rollout: ok")
	}
	if s, _ := p.Explain(ctx, ns, "web"); s != "1 of 2 live router replicas applied generation 1 (kanaria-router-b: does not serve the rollout)" {
		t.Errorf("Explain: %q", s)
	}
	replicaLease(t, c, "b", time.Second, applied(ns, 1, 1000))
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 1000}) {
		t.Errorf("two replicas at generation 1: %+v, %v", w, ok)
	}

	// A new assignment: replicas still on generation 1 with weights that
	// equal the new ones do not count.
	if err := p.Set(ctx, Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v2", Endpoints: []string{svcURL("web-canary", ns)}}}); err != nil {
		t.Fatal(err)
	}
	replicaLease(t, c, "a", time.Second, applied(ns, 1, 0))
	replicaLease(t, c, "b", time.Second, applied(ns, 2, 0))
	if _, ok := observe(t, p, ns); ok {
		t.Error("replica a at generation 1 of 2: ok")
	}

	// Replica a dies: its Lease expires (renewed 20 s ago, valid 15 s).
	replicaLease(t, c, "a", 20*time.Second, applied(ns, 1, 0))
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{}) {
		t.Errorf("expired a, live b at generation 2: %+v, %v", w, ok)
	}

	// A replica that found no canary endpoint serves it 0: that is what
	// Observe says, not the weight written.
	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	replicaLease(t, c, "b", time.Second, applied(ns, 3, 0))
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{}) {
		t.Errorf("replica serving the canary 0: %+v, %v", w, ok)
	}

	// Leases of other components, or a bad report, are no read-back.
	other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kanaria-system", Name: "kanaria-controller"},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To(int32(15)), RenewTime: &metav1.MicroTime{Time: now}}}
	if err := c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	replicaLease(t, c, "b", time.Second, applied(ns, 3, 100000))
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 100000}) {
		t.Errorf("with the controller's Lease beside: %+v, %v", w, ok)
	}
	var l coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKey{Namespace: "kanaria-system", Name: RouterLeaseName("b")}, &l); err != nil {
		t.Fatal(err)
	}
	l.Annotations[RouterReportAnnotation] = "{not json"
	if err := c.Update(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("a replica with a bad report: ok")
	}
}
