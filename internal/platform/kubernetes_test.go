package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

// The Kubernetes platform against a real API server (envtest: kube-apiserver
// and etcd). No kubelet, scheduler or controller-manager runs: no pod ever
// exists, and where a test needs a Deployment to be rolled out it stands in
// for the deployment controller by writing the Deployment's status
// (rolledOut), as that controller would once every pod is updated and ready.
// For the same reason nothing is garbage-collected; the tests check the
// owner references that garbage collection follows.
func TestKubernetes(t *testing.T) {
	env := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}})
	c := env.Client

	t.Run("CopiesAndServices", func(t *testing.T) { testCopiesAndServices(t, c) })
	t.Run("EnsureTwiceChangesNothing", func(t *testing.T) { testEnsureTwice(t, c) })
	t.Run("StateFollowsDeploymentStatus", func(t *testing.T) { testState(t, c) })
	t.Run("PromotionInPlace", func(t *testing.T) { testPromotion(t, c) })
	t.Run("UndoWhileWarm", func(t *testing.T) { testUndoWhileWarm(t, c) })
	t.Run("AbortDeletesTheCopies", func(t *testing.T) { testAbort(t, c) })
	t.Run("InvalidCreatesNothing", func(t *testing.T) { testInvalid(t, c) })
	t.Run("ReadsFromTheCache", func(t *testing.T) { testCache(t, env) })
}

// fixture is one namespace with a Rollout "web" and its target Deployment.
type fixture struct {
	t    *testing.T
	c    client.Client
	ns   string
	spec api.KubernetesPlatform
	p    *Kubernetes
	uid  types.UID
}

var nsCount int

// newFixture makes a namespace with the target Deployment "web" (two
// containers: web, with a port and an env variable the spec replaces, and
// a log shipper) and a Rollout owning what the platform creates.
func newFixture(t *testing.T, c client.Client) *fixture {
	t.Helper()
	ctx := context.Background()
	nsCount++
	ns := fmt.Sprintf("kplatform-%d", nsCount)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, ns: ns, spec: api.KubernetesPlatform{
		WorkloadRef: api.WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Containers: []api.ContainerTemplate{
			{Name: "web", Image: "ghcr.io/acme/web:{{.Revision}}", Env: []api.EnvVar{{Name: "REVISION", Value: "{{.Revision}}"}}},
			{Name: "logs", Image: "ghcr.io/acme/shipper:{{.Revision}}-stable"},
		},
		CanaryReplicas:   new(int32(2)),
		BaselineReplicas: new(int32(1)),
	}}
	f.createTarget(targetDeployment(ns))
	r := &kanariav1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: api.RolloutSpec{
			Revision: "v1",
			Platform: api.Platform{Kubernetes: &f.spec},
			Strategy: api.Strategy{Canary: &api.CanaryStrategy{Steps: []api.Step{{SetWeight: new(api.Weight(100_000))}}}},
		},
	}
	if err := c.Create(ctx, r); err != nil {
		t.Fatalf("create Rollout: %v", err)
	}
	f.uid = r.UID
	f.p = f.platform()
	return f
}

func targetDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{"app": "web", "team": "shop"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{
						Name:  "web",
						Image: "ghcr.io/acme/web:v0",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []corev1.EnvVar{
							{Name: "REVISION", Value: "old"},
							{Name: "LOG_LEVEL", Value: "info"},
						},
					},
					{Name: "logs", Image: "ghcr.io/acme/shipper:v0-stable"},
				}},
			},
		},
	}
}

func (f *fixture) createTarget(d *appsv1.Deployment) {
	f.t.Helper()
	if err := f.c.Create(context.Background(), d); err != nil {
		f.t.Fatalf("create Deployment: %v", err)
	}
}

// platform is a Kubernetes platform for the fixture's Rollout and spec.
func (f *fixture) platform() *Kubernetes {
	f.t.Helper()
	p, err := NewKubernetes(f.c, f.ns, "web", metav1.OwnerReference{
		APIVersion: kanariav1alpha1.GroupVersion.String(), Kind: "Rollout", Name: "web", UID: f.uid,
	}, f.spec)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) ensure(rev string, baseline bool) {
	f.t.Helper()
	if err := f.p.Ensure(context.Background(), Instance{Rollout: "web", Revision: rev, Baseline: baseline}); err != nil {
		f.t.Fatalf("Ensure %s (baseline %v): %v", rev, baseline, err)
	}
}

func (f *fixture) stop(rev string, baseline bool) {
	f.t.Helper()
	if err := f.p.Stop(context.Background(), Instance{Rollout: "web", Revision: rev, Baseline: baseline}); err != nil {
		f.t.Fatalf("Stop %s (baseline %v): %v", rev, baseline, err)
	}
}

// settle is Settle with routed, the endpoints of the traffic read back.
func (f *fixture) settle(routed ...string) {
	f.t.Helper()
	if err := f.p.Settle(context.Background(), routed); err != nil {
		f.t.Fatalf("Settle: %v", err)
	}
}

func (f *fixture) state(rev string, baseline bool) (State, bool) {
	return f.p.State(Instance{Rollout: "web", Revision: rev, Baseline: baseline})
}

// deployment reads a Deployment; nil when there is none.
func (f *fixture) deployment(name string) *appsv1.Deployment {
	f.t.Helper()
	var d appsv1.Deployment
	err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return &d
}

func (f *fixture) service(name string) *corev1.Service {
	f.t.Helper()
	var s corev1.Service
	err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return &s
}

// rolledOut stands in for the deployment controller and the kubelet: the
// Deployment's current spec is observed and all its replicas are updated,
// ready and available.
func (f *fixture) rolledOut(name string) {
	f.t.Helper()
	d := f.deployment(name)
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
		}},
	}
	if err := f.c.Status().Update(context.Background(), d); err != nil {
		f.t.Fatalf("write status of %s: %v", name, err)
	}
}

// objects lists the names of the namespace's Deployments and Services with
// their resourceVersions, to show what changed.
func (f *fixture) objects() map[string]string {
	f.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var ds appsv1.DeploymentList
	if err := f.c.List(ctx, &ds, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	for _, d := range ds.Items {
		out["deployment/"+d.Name] = d.ResourceVersion
	}
	var ss corev1.ServiceList
	if err := f.c.List(ctx, &ss, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	for _, s := range ss.Items {
		out["service/"+s.Name] = s.ResourceVersion
	}
	return out
}

func (f *fixture) checkOwned(obj client.Object) {
	f.t.Helper()
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 || refs[0].UID != f.uid || refs[0].Kind != "Rollout" || refs[0].Name != "web" ||
		refs[0].Controller == nil || !*refs[0].Controller || refs[0].BlockOwnerDeletion == nil || !*refs[0].BlockOwnerDeletion {
		f.t.Errorf("%s: owner references %+v, want the Rollout web (uid %s) as controller", obj.GetName(), refs, f.uid)
	}
}

func containerOf(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	c := findContainer(&d.Spec.Template.Spec, name)
	if c == nil {
		t.Fatalf("%s has no container %s", d.Name, name)
	}
	return *c
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// checkRevision checks that a Deployment's template runs rev: both images,
// the env variable, the labels, the annotation.
func checkRevision(t *testing.T, d *appsv1.Deployment, role, rev string) {
	t.Helper()
	web, logs := containerOf(t, d, "web"), containerOf(t, d, "logs")
	if web.Image != "ghcr.io/acme/web:"+rev || logs.Image != "ghcr.io/acme/shipper:"+rev+"-stable" {
		t.Errorf("%s images: %s, %s; want revision %s", d.Name, web.Image, logs.Image, rev)
	}
	if env := envOf(web); env["REVISION"] != rev || env["LOG_LEVEL"] != "info" || len(web.Env) != 2 {
		t.Errorf("%s env %v, want REVISION=%s replaced and LOG_LEVEL kept", d.Name, web.Env, rev)
	}
	l := d.Spec.Template.Labels
	if l[LabelRole] != role || l[LabelRevision] != rev || l["app"] != "web" || l["tier"] != "front" {
		t.Errorf("%s pod labels %v, want the target's plus role %s, revision %s", d.Name, l, role, rev)
	}
	if got := d.Annotations[LabelRevision]; got != rev {
		t.Errorf("%s annotation %s = %q, want %q", d.Name, LabelRevision, got, rev)
	}
}

func checkService(t *testing.T, f *fixture, role string) {
	t.Helper()
	s := f.service("web-" + role)
	if s == nil {
		t.Fatalf("no Service web-%s", role)
	}
	if len(s.Spec.Selector) != 2 || s.Spec.Selector["app"] != "web" || s.Spec.Selector[LabelRole] != role {
		t.Errorf("Service %s selector %v, want app=web and %s=%s", s.Name, s.Spec.Selector, LabelRole, role)
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 8080 || s.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Errorf("Service %s ports %+v, want 8080 -> 8080", s.Name, s.Spec.Ports)
	}
	f.checkOwned(s)
}

func testCopiesAndServices(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false) // adoption: the stable revision
	f.ensure("v2", false) // the canary
	f.ensure("v1", true)  // the baseline: a fresh copy of stable

	target := f.deployment("web")
	checkRevision(t, target, RoleStable, "v1")
	if len(target.OwnerReferences) != 0 {
		t.Errorf("the target got owner references %+v; deleting the Rollout would delete the user's Deployment", target.OwnerReferences)
	}
	if got := target.Spec.Selector.MatchLabels; len(got) != 1 || got["app"] != "web" {
		t.Errorf("the target's selector changed: %v", got)
	}
	if *target.Spec.Replicas != 3 {
		t.Errorf("the target's replicas changed to %d", *target.Spec.Replicas)
	}

	for _, tc := range []struct {
		role, rev string
		replicas  int32
	}{{RoleCanary, "v2", 2}, {RoleBaseline, "v1", 1}} {
		d := f.deployment("web-" + tc.role)
		if d == nil {
			t.Fatalf("no Deployment web-%s", tc.role)
		}
		checkRevision(t, d, tc.role, tc.rev)
		if got := d.Spec.Template.Labels[LabelRollout]; got != "web" {
			t.Errorf("%s pod label %s = %q, want web", d.Name, LabelRollout, got)
		}
		if got := d.Spec.Selector.MatchLabels; len(got) != 2 || got["app"] != "web" || got[LabelRole] != tc.role {
			t.Errorf("%s selector %v, want app=web and %s=%s", d.Name, got, LabelRole, tc.role)
		}
		if d.Labels[LabelRole] != tc.role || d.Labels[LabelRollout] != "web" || d.Labels["team"] != "" {
			t.Errorf("%s labels %v, want kanaria's only", d.Name, d.Labels)
		}
		if *d.Spec.Replicas != tc.replicas {
			t.Errorf("%s replicas %d, want %d", d.Name, *d.Spec.Replicas, tc.replicas)
		}
		f.checkOwned(d)
		checkService(t, f, tc.role)
	}
	checkService(t, f, RoleStable)

	for _, tc := range []struct {
		rev      string
		baseline bool
		url      string
	}{
		{"v1", false, "http://web-stable." + f.ns + ".svc:8080"},
		{"v2", false, "http://web-canary." + f.ns + ".svc:8080"},
		{"v1", true, "http://web-baseline." + f.ns + ".svc:8080"},
	} {
		st, ok := f.state(tc.rev, tc.baseline)
		if !ok || len(st.Endpoints) != 1 || st.Endpoints[0] != tc.url {
			t.Errorf("State(%s, baseline %v) = %+v, %v; want endpoint %s", tc.rev, tc.baseline, st, ok, tc.url)
		}
	}
	if st, ok := f.state("v3", false); ok {
		t.Errorf("State of a revision nothing runs: %+v, ok", st)
	}
	if st, ok := f.state("v2", true); ok {
		t.Errorf("State of a baseline of v2, which does not run: %+v, ok", st)
	}
}

func testEnsureTwice(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false)
	f.ensure("v2", false)
	f.ensure("v1", true)
	before := f.objects()
	if len(before) != 6 {
		t.Fatalf("objects after Ensure: %v, want 3 Deployments and 3 Services", before)
	}
	// A platform made anew (a restarted controller) sees the same.
	f.p = f.platform()
	f.ensure("v1", false)
	f.ensure("v2", false)
	f.ensure("v1", true)
	if after := f.objects(); !equalMaps(before, after) {
		t.Errorf("Ensure again changed objects:\nbefore %v\nafter  %v", before, after)
	}

	// The replicas provider scales the canary copy itself; Ensure leaves
	// that alone, but a new revision starts from the spec's count.
	d := f.deployment("web-canary")
	d.Spec.Replicas = new(int32(5))
	if err := c.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	f.ensure("v2", false)
	if got := *f.deployment("web-canary").Spec.Replicas; got != 5 {
		t.Errorf("Ensure reset the canary's replicas to %d, want 5 as scaled", got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testState(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false)
	f.ensure("v2", false)
	st, ok := f.state("v2", false)
	if !ok || st.Ready || st.Failed || !strings.Contains(st.Reason, "generation") {
		t.Errorf("State of a copy no controller has seen: %+v, %v; want not ready, waiting for the generation", st, ok)
	}
	f.rolledOut("web-canary")
	if st, ok := f.state("v2", false); !ok || !st.Ready || st.Failed {
		t.Errorf("State after the Deployment rolled out: %+v, %v; want Ready", st, ok)
	}

	// Half rolled out: not ready, and the reason says how far.
	d := f.deployment("web-canary")
	d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 1, 1, 1
	if err := c.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.state("v2", false); st.Ready || !strings.Contains(st.Reason, "1 of 2") {
		t.Errorf("State with 1 of 2 replicas ready: %+v", st)
	}

	// The progress deadline passed: Failed, with the controller's message.
	d = f.deployment("web-canary")
	d.Status.Conditions = []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
		Message: `ReplicaSet "web-canary-5d8f" has timed out progressing.`,
	}}
	if err := c.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.state("v2", false); !st.Failed || st.Ready || !strings.Contains(st.Reason, "timed out") {
		t.Errorf("State past the progress deadline: %+v; want Failed with the reason", st)
	}
}

// testPromotion follows the engine through a promotion: v2 (the canary
// copy) becomes stable, and after the scale-down delay it stops v1, the
// target's revision.
func testPromotion(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false)
	f.rolledOut("web")
	f.ensure("v2", false)
	f.rolledOut("web-canary")
	canaryURL, stableURL := "http://web-canary."+f.ns+".svc:8080", "http://web-stable."+f.ns+".svc:8080"

	f.stop("v1", false)
	target := f.deployment("web")
	checkRevision(t, target, RoleStable, "v2")
	if *target.Spec.Replicas != 3 {
		t.Errorf("promotion changed the target's replicas to %d", *target.Spec.Replicas)
	}
	// The target rolls: v2 is still served by the copy.
	st, ok := f.state("v2", false)
	if !ok || !st.Ready || len(st.Endpoints) != 1 || st.Endpoints[0] != canaryURL {
		t.Errorf("State(v2) while the target rolls: %+v, %v; want the ready copy at %s", st, ok, canaryURL)
	}
	if st, ok := f.state("v1", false); ok {
		t.Errorf("State(v1) after it was stopped: %+v, ok", st)
	}
	f.settle()
	if f.deployment("web-canary") == nil {
		t.Fatal("Settle deleted the copy before the target was ready")
	}
	// A new canary cannot take the copy while it serves v2.
	err := f.p.Ensure(context.Background(), Instance{Rollout: "web", Revision: "v3"})
	if err == nil || !strings.Contains(err.Error(), "still runs v2") {
		t.Errorf("Ensure(v3) while the copy serves v2: %v, want a refusal", err)
	}
	// Stop again (a repeated action) changes nothing.
	before := f.objects()
	f.stop("v1", false)
	if after := f.objects(); !equalMaps(before, after) {
		t.Errorf("a repeated Stop(v1) changed objects:\nbefore %v\nafter  %v", before, after)
	}

	f.rolledOut("web")
	st, ok = f.state("v2", false)
	if !ok || !st.Ready || len(st.Endpoints) != 1 || st.Endpoints[0] != stableURL {
		t.Errorf("State(v2) once the target rolled out: %+v, %v; want the target at %s", st, ok, stableURL)
	}
	// Traffic read back from an assignment made before the target was
	// Ready still goes to the copy: it stays until traffic has moved.
	f.settle(canaryURL)
	if f.deployment("web-canary") == nil {
		t.Fatal("Settle deleted the copy while the traffic read back still routes to it")
	}
	f.settle(stableURL)
	if d := f.deployment("web-canary"); d != nil {
		t.Errorf("the copy is still there after Settle: %+v", d.ObjectMeta)
	}
	if st, ok := f.state("v2", false); !ok || !st.Ready || st.Endpoints[0] != stableURL {
		t.Errorf("State(v2) after Settle: %+v, %v", st, ok)
	}
	// The next release gets the copy name.
	f.ensure("v3", false)
	checkRevision(t, f.deployment("web-canary"), RoleCanary, "v3")
}

// testUndoWhileWarm: after the promotion of v2 and before v1 is scaled
// down, undo makes v1 stable again at once (only traffic moves: the target
// still runs v1, untouched), and stopping v2 later just deletes the copy.
func testUndoWhileWarm(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false)
	f.rolledOut("web")
	f.ensure("v2", false)
	f.rolledOut("web-canary")
	// Promoted: v2 serves from the copy, v1 is kept warm in the target.
	// Undo: v1 must be Ready now, where it was.
	before := f.deployment("web").ResourceVersion
	st, ok := f.state("v1", false)
	if !ok || !st.Ready || st.Endpoints[0] != "http://web-stable."+f.ns+".svc:8080" {
		t.Errorf("State(v1), warm: %+v, %v; want ready at once", st, ok)
	}
	// The engine re-ensures what the status implies; nothing moves.
	f.ensure("v1", false)
	f.ensure("v2", false)
	// The undone v2 is scaled down later.
	f.stop("v2", false)
	if f.deployment("web-canary") != nil {
		t.Error("Stop(v2) left the copy")
	}
	target := f.deployment("web")
	if target.ResourceVersion != before {
		t.Error("undo touched the target: its pods would restart")
	}
	checkRevision(t, target, RoleStable, "v1")
	if _, ok := f.state("v2", false); ok {
		t.Error("State(v2) after it was stopped: ok")
	}
	// Stopping the only revision there is cannot work: the target stays.
	err := f.p.Stop(context.Background(), Instance{Rollout: "web", Revision: "v1"})
	if err == nil || !strings.Contains(err.Error(), "no other revision") {
		t.Errorf("Stop of the target's revision with nothing to replace it: %v", err)
	}
}

func testAbort(t *testing.T, c client.Client) {
	f := newFixture(t, c)
	f.ensure("v1", false)
	f.ensure("v2", false)
	f.ensure("v1", true)
	target := f.deployment("web").ResourceVersion
	f.stop("v2", false)
	f.stop("v1", true)
	if f.deployment("web-canary") != nil || f.deployment("web-baseline") != nil {
		t.Error("abort left a copy")
	}
	if f.deployment("web").ResourceVersion != target {
		t.Error("abort touched the target")
	}
	// Stopping what does not run is fine (a repeated action).
	f.stop("v2", false)
	f.stop("v1", true)
	f.stop("v9", false)
}

// testInvalid: every spec the cluster shows to be wrong is refused with an
// *InvalidError naming the field, and nothing is created or changed.
func testInvalid(t *testing.T, c client.Client) {
	for _, tc := range []struct {
		name   string
		change func(f *fixture)
		field  string
		says   string
	}{
		{"missing target", func(f *fixture) { f.spec.WorkloadRef.Name = "shop" }, "spec.platform.kubernetes.workloadRef.name", "not found"},
		{"container not in target", func(f *fixture) { f.spec.Containers[1].Name = "sidecar" }, "spec.platform.kubernetes.containers[1].name", `has no container "sidecar"`},
		{"image does not render", func(f *fixture) { f.spec.Containers[0].Image = "ghcr.io/acme/web:{{.Tag}}" }, "spec.platform.kubernetes.containers[0].image", "does not render"},
		{"image does not parse", func(f *fixture) { f.spec.Containers[1].Image = "ghcr.io/acme/web:{{.Revision" }, "spec.platform.kubernetes.containers[1].image", "does not render"},
		{"image renders empty", func(f *fixture) { f.spec.Containers[0].Image = `{{if eq .Revision "x"}}x{{end}}` }, "spec.platform.kubernetes.containers[0].image", "empty"},
		{"env does not render", func(f *fixture) { f.spec.Containers[0].Env[0].Value = "{{.Revison}}" }, "spec.platform.kubernetes.containers[0].env[0].value", "does not render"},
		{"no port", func(f *fixture) { f.spec.Containers = f.spec.Containers[1:] }, "spec.platform.kubernetes.port", "declares no port"},
		{"name too long", func(f *fixture) { f.spec.WorkloadRef.Name = strings.Repeat("w", 60) }, "spec.platform.kubernetes.workloadRef.name", "not a valid Service name"},
		{"kind", func(f *fixture) { f.spec.WorkloadRef.Kind = "StatefulSet" }, "spec.platform.kubernetes.workloadRef.kind", "not supported"},
		{"a Service of someone else", func(f *fixture) {
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "web-canary"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
			}
			if err := f.c.Create(context.Background(), svc); err != nil {
				f.t.Fatal(err)
			}
		}, "spec.platform.kubernetes.workloadRef.name", "does not belong to rollout web"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			f := newFixture(t, c)
			tc.change(f)
			f.p = f.platform()
			before := f.objects()
			check := func(what string, err error) {
				t.Helper()
				var ie *InvalidError
				if !errors.As(err, &ie) {
					t.Fatalf("%s: %v, want an *InvalidError", what, err)
				}
				if ie.Field != tc.field || !strings.Contains(ie.Reason, tc.says) {
					t.Errorf("%s: field %q reason %q, want field %q saying %q", what, ie.Field, ie.Reason, tc.field, tc.says)
				}
			}
			check("Validate", f.p.Validate(context.Background(), "v1"))
			// The first Ensure (adoption) and a baseline's: both refused.
			check("Ensure(v1)", f.p.Ensure(context.Background(), Instance{Rollout: "web", Revision: "v1"}))
			check("Ensure(v1, baseline)", f.p.Ensure(context.Background(), Instance{Rollout: "web", Revision: "v1", Baseline: true}))
			if after := f.objects(); !equalMaps(before, after) {
				t.Errorf("a refused Ensure changed objects:\nbefore %v\nafter  %v", before, after)
			}
			if st, ok := f.state("v1", false); ok {
				t.Errorf("State(v1) of an invalid spec: %+v, ok", st)
			}
		})
	}
}

// testCache: with a client that reads from an informer cache (as a
// controller-runtime manager's does), State and an Ensure with nothing to
// change send no request at all to the API server: they run on every
// reconcile.
func testCache(t *testing.T, env *kube.Env) {
	f := newFixture(t, env.Client)
	f.ensure("v1", false)
	f.ensure("v2", false)
	f.ensure("v1", true)
	f.rolledOut("web-canary")

	var requests atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(r)
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca, err := cache.New(cfg, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{f.ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ca.Start(ctx) }()
	cc, err := client.New(cfg, client.Options{Scheme: env.Scheme, Cache: &client.CacheOptions{Reader: ca}})
	if err != nil {
		t.Fatal(err)
	}
	f.c = cc
	f.p = f.platform()
	// The first reads start the informers (a list and a watch each).
	if st, ok := f.state("v2", false); !ok || !st.Ready {
		t.Fatalf("State(v2) through the cache: %+v, %v", st, ok)
	}
	if err := f.p.Validate(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if requests.Load() == 0 {
		t.Fatal("the counting transport saw no request, so it proves nothing")
	}
	requests.Store(0)
	for range 10 {
		f.state("v1", false)
		f.state("v2", false)
		f.state("v1", true)
		f.ensure("v1", false)
		f.ensure("v2", false)
		f.ensure("v1", true)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("State and Ensure with nothing to change sent %d requests to the API server, want 0", n)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
