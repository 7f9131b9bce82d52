package traffic

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

// The replicas tests run against a real API server with no kubelet and no
// Deployment controller: where those would report pods, the test writes the
// Deployments' status itself (kubeletReports), and says so at each call.

// pods creates a Deployment whose pods carry app=web and the role label, as
// the Kubernetes platform leaves the target (role stable) and its copies.
func pods(t *testing.T, c client.Client, ns, name, role string, replicas int32) {
	t.Helper()
	lbl := map[string]string{"app": "web", "kanaria.dev/role": role}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "ghcr.io/acme/web:" + role}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// service creates a Service selecting app=web plus the role, as the
// Kubernetes platform makes <target>-<role>.
func service(t *testing.T, c client.Client, ns, name, role string) {
	t.Helper()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web", "kanaria.dev/role": role},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080}},
		},
	}
	if err := c.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// kubeletReports stands in for the Deployment controller and the kubelet:
// every Deployment in ns is reported with all its pods ready.
func kubeletReports(t *testing.T, c client.Client, ns string) {
	t.Helper()
	var list appsv1.DeploymentList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, d := range list.Items {
		n := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		if err := c.Status().Update(context.Background(), &d); err != nil {
			t.Fatal(err)
		}
	}
}

func replicasOf(t *testing.T, c client.Client, ns, name string) int32 {
	t.Helper()
	var d appsv1.Deployment
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func explain(t *testing.T, p *Replicas, ns string) string {
	t.Helper()
	s, err := p.Explain(context.Background(), ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReplicasRelease walks a release through the pod ratio: the canary
// copy's replicas follow the weight (3 stable pods: 10 % asks 1 pod, which
// is 25 %, and the status line says so), 0 % is 0 pods, a weight beyond
// what the stable's size allows stops there, the baseline gets its own
// pods, a repeated Set writes nothing, an abort scales the copies to 0
// first, and the target is never scaled.
func TestReplicasRelease(t *testing.T) {
	env := kube.Start(t, kube.Options{})
	ctx := context.Background()
	c := env.Client
	ns := newNamespace(t, c, "shop")
	pods(t, c, ns, "web", "stable", 3)
	pods(t, c, ns, "web-canary", "canary", 1)
	pods(t, c, ns, "web-baseline", "baseline", 1)
	for _, role := range []string{"stable", "canary", "baseline"} {
		service(t, c, ns, "web-"+role, role)
	}
	p := NewReplicas(c)
	if !Has(p, Approximate) || Has(p, ExactPPM) || Has(p, Sticky) {
		t.Errorf("capabilities %v: want Approximate only", p.Capabilities())
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("Observe before any Set: ok")
	}

	// Start: the canary at 0 % gets no pods, so no user reaches it.
	if err := p.Set(ctx, release(ns, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if n := replicasOf(t, c, ns, "web-canary"); n != 0 {
		t.Errorf("canary at 0 %%: %d replicas", n)
	}

	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	if n := replicasOf(t, c, ns, "web-canary"); n != 1 {
		t.Errorf("canary at 10 %% beside 3 stable pods: %d replicas, want 1", n)
	}
	if _, ok := observe(t, p, ns); ok {
		t.Error("Observe while the canary's pod is not ready: ok, want not settled")
	}
	kubeletReports(t, c, ns) // stand-in for the kubelet: every pod ready
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 250000}) {
		t.Errorf("Observe at 10 %% asked, 1 of 4 pods: %+v, %v; want 25 %%", w, ok)
	}
	if got, want := explain(t, p, ns), "canary: 1 of 4 ready pods = 25%, asked 10%"; !strings.Contains(got, want) {
		t.Errorf("Explain %q, want it to contain %q", got, want)
	}

	rv := resourceVersions(t, c, ns)
	if err := p.Set(ctx, release(ns, 100000, 0)); err != nil {
		t.Fatal(err)
	}
	if got := resourceVersions(t, c, ns); got != rv {
		t.Errorf("repeated Set wrote: %s -> %s", rv, got)
	}

	for _, c2 := range []struct {
		w    v1alpha1.Weight
		want int32
	}{{500000, 3}, {900000, 3}, {1, 1}} {
		if err := p.Set(ctx, release(ns, c2.w, 0)); err != nil {
			t.Fatal(err)
		}
		if n := replicasOf(t, c, ns, "web-canary"); n != c2.want {
			t.Errorf("canary at %s beside 3 stable pods: %d replicas, want %d", c2.w, n, c2.want)
		}
	}
	kubeletReports(t, c, ns)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 250000}) {
		t.Errorf("Observe at 0.0001 %% asked: %+v, %v; want 25 %% (one pod is the least)", w, ok)
	}

	// Baseline beside the canary, each asked 10 % of the traffic: with 3
	// stable pods one each (20 % each).
	if err := p.Set(ctx, release(ns, 100000, 100000)); err != nil {
		t.Fatal(err)
	}
	kubeletReports(t, c, ns)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 200000, BaselinePPM: 200000}) {
		t.Errorf("Observe with baseline: %+v, %v", w, ok)
	}
	if got := explain(t, p, ns); !strings.Contains(got, "canary: 1 of 5 ready pods = 20%, asked 10%") || !strings.Contains(got, "baseline: 1 of 5 ready pods = 20%, asked 10%") {
		t.Errorf("Explain with baseline: %q", got)
	}

	// Abort: weights to 0 without canary and baseline, before the platform
	// deletes the copies; the copies go to 0 pods, the target keeps 3.
	abort := Assignment{Namespace: ns, Rollout: "web", Stable: release(ns, 0, 0).Stable}
	if err := p.Set(ctx, abort); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int32{"web": 3, "web-canary": 0, "web-baseline": 0} {
		if n := replicasOf(t, c, ns, name); n != want {
			t.Errorf("after abort %s has %d replicas, want %d", name, n, want)
		}
	}
	kubeletReports(t, c, ns)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{}) {
		t.Errorf("Observe after abort: %+v, %v", w, ok)
	}
	if got := explain(t, p, ns); got != "" {
		t.Errorf("Explain with no canary: %q", got)
	}
}

// TestReplicasPromotion: while v2 is stable behind the canary copy's
// Service (the target still rolling to v2), the copy is not scaled and the
// target keeps its pods; the roles follow the assignment.
func TestReplicasPromotion(t *testing.T) {
	env := kube.Start(t, kube.Options{})
	ctx := context.Background()
	c := env.Client
	ns := newNamespace(t, c, "shop")
	pods(t, c, ns, "web", "stable", 8)
	pods(t, c, ns, "web-canary", "canary", 1)
	service(t, c, ns, "web-stable", "stable")
	service(t, c, ns, "web-canary", "canary")
	p := NewReplicas(c)
	if err := p.Set(ctx, release(ns, 200000, 0)); err != nil {
		t.Fatal(err)
	}
	if n := replicasOf(t, c, ns, "web-canary"); n != 2 {
		t.Errorf("canary at 20 %% beside 8 stable pods: %d replicas, want 2 (exactly 20 %%)", n)
	}
	kubeletReports(t, c, ns)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{CanaryPPM: 200000}) {
		t.Errorf("Observe at 20 %%: %+v, %v", w, ok)
	}
	promoted := Assignment{Namespace: ns, Rollout: "web", Stable: Backend{Revision: "v2", Endpoints: []string{svcURL("web-canary", ns)}}}
	if err := p.Set(ctx, promoted); err != nil {
		t.Fatal(err)
	}
	if a, b := replicasOf(t, c, ns, "web"), replicasOf(t, c, ns, "web-canary"); a != 8 || b != 2 {
		t.Errorf("promoted: target %d, copy %d replicas; want 8 and 2 (neither scaled)", a, b)
	}
	kubeletReports(t, c, ns)
	if w, ok := observe(t, p, ns); !ok || w != (v1alpha1.Weights{}) {
		t.Errorf("Observe promoted: %+v, %v; want 0 for the canary", w, ok)
	}
}

// TestReplicasRefuses: a backend whose Service is missing or selects no
// Deployment, or the stable Deployment's, is an error naming it.
func TestReplicasRefuses(t *testing.T) {
	env := kube.Start(t, kube.Options{})
	ctx := context.Background()
	c := env.Client
	ns := newNamespace(t, c, "shop")
	pods(t, c, ns, "web", "stable", 3)
	service(t, c, ns, "web-stable", "stable")
	p := NewReplicas(c)
	if err := p.Set(ctx, release(ns, 1000, 0)); err == nil || !strings.Contains(err.Error(), `canary Service shop/web-canary: services "web-canary" not found`) {
		t.Errorf("missing canary Service: %v", err)
	}
	service(t, c, ns, "web-canary", "canary")
	if err := p.Set(ctx, release(ns, 1000, 0)); err == nil || !strings.Contains(err.Error(), "canary Service shop/web-canary selects no Deployment's pods") {
		t.Errorf("canary Service without pods: %v", err)
	}
	a := release(ns, 1000, 0)
	a.Canary.Endpoints = a.Stable.Endpoints
	if err := p.Set(ctx, a); err == nil || !strings.Contains(err.Error(), "the canary Service selects the stable Deployment web") {
		t.Errorf("canary on the stable Service: %v", err)
	}
	if n := replicasOf(t, c, ns, "web"); n != 3 {
		t.Errorf("the target was scaled to %d", n)
	}
}

// TestPodsFor: the count whose share is nearest the weight, bounded.
func TestPodsFor(t *testing.T) {
	for _, c := range []struct {
		w, baseline v1alpha1.Weight
		stable      int32
		want        int32
	}{
		{0, 0, 10, 0},
		{1, 0, 10, 1},           // any weight gets a pod
		{100000, 0, 9, 1},       // 1 of 10
		{100000, 0, 3, 1},       // 1 of 4 (25 %) is nearer than 0
		{25000, 0, 39, 1},       // the seed's 1 of 40 = 2.5 %
		{500000, 0, 4, 4},       // half
		{900000, 0, 4, 4},       // never more than stable
		{v1alpha1.PPM, 0, 4, 4}, // 100 %: bounded too
		{100000, 100000, 8, 1},  // 1 canary + 1 baseline of 10
		{500000, 500000, 2, 2},  // nothing left for stable: bounded
		{300000, 0, 0, 1},       // stable scaled to 0
	} {
		all := v1alpha1.Weights{CanaryPPM: c.w, BaselinePPM: c.baseline}
		if got := PodsFor(c.w, all, c.stable); got != c.want {
			t.Errorf("PodsFor(%s, baseline %s, stable %d) = %d, want %d", c.w, c.baseline, c.stable, got, c.want)
		}
	}
}

// resourceVersions is every Deployment's resourceVersion in ns, as one
// string.
func resourceVersions(t *testing.T, c client.Client, ns string) string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range list.Items {
		b.WriteString(d.Name + "=" + d.ResourceVersion + " ")
	}
	return b.String()
}
