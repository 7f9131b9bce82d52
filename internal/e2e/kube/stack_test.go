// Package kube runs kanaria's whole Kubernetes stack end to end: a real
// kube-apiserver and etcd (envtest), `kanaria controller` and two
// `kanaria router --kubernetes` replicas as real processes, and HTTP servers
// playing the pods in a network namespace, with a FAKE kubelet
// (fakekubelet_test.go) writing the Deployment statuses and EndpointSlices
// that no kubelet or endpoint-slice controller writes here. Users' requests
// are real: they go through the routers to the pod servers.
package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }

// proc is a kanaria process the test started.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(binary.Kanaria(t), args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.output())
		}
	})
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls cond every 100 ms until it holds or the budget is spent.
func eventually(t *testing.T, budget time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(budget)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, budget, last)
}

// cluster is one test's stack.
type cluster struct {
	t       *testing.T
	env     *kube.Env
	ns      string
	kubelet *fakeKubelet
	routers []string // proxy addresses
	admins  []string // their admin APIs' addresses
	ctrl    *proc
	http    *http.Client
	// failures counts failed requests, to log only the first few.
	failures atomic.Int64
}

const shop = "shop"

func newCluster(t *testing.T) *cluster {
	env := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}})
	c := &cluster{t: t, env: env, ns: shop, http: &http.Client{Timeout: 5 * time.Second}}
	ctx := context.Background()
	for _, ns := range []string{shop, "kanaria-system"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	c.kubelet = newFakeKubelet(t, env.Client, shop, 8080, "web/v1", "web/v2", "web-canary/v2", "web-baseline/v1",
		"web-canary/v3:errors", "web-baseline/v2")
	t.Cleanup(func() {
		if t.Failed() {
			c.dump()
		}
	})
	return c
}

// dump logs what the namespace holds, for a failed test.
func (c *cluster) dump() {
	ctx := context.Background()
	var svcs corev1.ServiceList
	_ = c.env.Client.List(ctx, &svcs, client.InNamespace(c.ns))
	for _, s := range svcs.Items {
		c.t.Logf("service %s selector %v ports %+v", s.Name, s.Spec.Selector, s.Spec.Ports)
	}
	var slices discoveryv1.EndpointSliceList
	_ = c.env.Client.List(ctx, &slices, client.InNamespace(c.ns))
	for _, s := range slices.Items {
		c.t.Logf("endpointslice %s labels %v endpoints %+v ports %+v", s.Name, s.Labels, s.Endpoints, s.Ports)
	}
	var deps appsv1.DeploymentList
	_ = c.env.Client.List(ctx, &deps, client.InNamespace(c.ns))
	for _, d := range deps.Items {
		c.t.Logf("deployment %s replicas %v template labels %v status %+v", d.Name, *d.Spec.Replicas, d.Spec.Template.Labels, d.Status)
	}
	r := c.rollout()
	c.t.Logf("rollout status %+v traffic %+v", r.Status, r.Status.Traffic)
}

func (c *cluster) startController() {
	c.ctrl = start(c.t, "controller", "controller", "--kubeconfig", c.env.Kubeconfig,
		"--health-probe-bind-address", freeAddr(c.t), "--metrics-bind-address", "0",
		"--router-namespace", "kanaria-system")
}

// startRouter starts a replica with its admin API on loopback, published
// in its Lease with the token of the shared Secret, as the install runs it:
// the controller reads each replica's samples there.
func (c *cluster) startRouter(id string) {
	listen, admin := freeAddr(c.t), freeAddr(c.t)
	start(c.t, "router-"+id, "router", "--kubernetes", "--kubeconfig", c.env.Kubeconfig,
		"--listen", listen, "--id", id, "--lease-namespace", "kanaria-system",
		"--admin", admin, "--admin-token-secret", "kanaria-system/kanaria-router-admin")
	c.routers, c.admins = append(c.routers, listen), append(c.admins, admin)
}

// deployment is the user's own Deployment of revision v1, as `kubectl apply`
// would create it.
func (c *cluster) createTarget() {
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "ghcr.io/acme/web:v1",
					Env:   []corev1.EnvVar{{Name: "REVISION", Value: "v1"}},
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if err := c.env.Client.Create(context.Background(), d); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) createRollout(strategy api.Strategy) { c.createRolloutWith(strategy, nil) }

// createRolloutWith creates the Rollout with an analysis section.
func (c *cluster) createRolloutWith(strategy api.Strategy, analysis *api.AnalysisSpec) {
	r := &kanariav1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "web"},
		Spec: api.RolloutSpec{
			Revision: "v1",
			Route:    api.Route{KeyHeader: "X-User-Id"},
			Platform: api.Platform{Kubernetes: &api.KubernetesPlatform{
				WorkloadRef: api.WorkloadRef{Name: "web"},
				Containers: []api.ContainerTemplate{{
					Name: "web", Image: "ghcr.io/acme/web:{{.Revision}}",
					Env: []api.EnvVar{{Name: "REVISION", Value: "{{.Revision}}"}},
				}},
			}},
			Traffic:  &api.Traffic{Router: &api.RouterTraffic{}},
			Strategy: strategy,
			Analysis: analysis,
		},
	}
	if err := c.env.Client.Create(context.Background(), r); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) rollout() *kanariav1alpha1.Rollout {
	r := &kanariav1alpha1.Rollout{}
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: c.ns, Name: "web"}, r); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// patch applies a merge patch to the Rollout, as `kubectl patch --type merge` would.
func (c *cluster) patch(p string) {
	c.t.Helper()
	r := &kanariav1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "web"}}
	if err := c.env.Client.Patch(context.Background(), r, client.RawPatch("application/merge-patch+json", []byte(p))); err != nil {
		c.t.Fatal(err)
	}
}

// get sends one user's request through a router and returns the revision
// that answered (body) and the version stamp (header); "" on an error, which
// is logged (the first few of each test).
func (c *cluster) get(router, user string) (body, stamp string) {
	req, _ := http.NewRequest("GET", "http://"+router+"/", nil)
	req.Header.Set("X-User-Id", user)
	resp, err := c.http.Do(req)
	if err != nil {
		c.logFailure("%s: %v", user, err)
		return "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != 200 {
		c.logFailure("%s: %s %q", user, resp.Status, b)
		return "", ""
	}
	return strings.TrimSpace(string(b)), resp.Header.Get("X-Kanaria-Version")
}

func (c *cluster) logFailure(format string, args ...any) {
	if c.failures.Add(1) <= 5 {
		c.t.Logf("request failed at %s: "+format, append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
}

// split sends n users' requests through router and returns who got the canary.
func (c *cluster) split(router string, n int, canary string) (onCanary map[string]bool, failed int) {
	onCanary = map[string]bool{}
	for i := 0; i < n; i++ {
		user := fmt.Sprintf("user-%d", i)
		body, stamp := c.get(router, user)
		switch {
		case body == "" || body != stamp:
			failed++
		case body == canary:
			onCanary[user] = true
		}
	}
	return onCanary, failed
}

// Bounds of steady's load: one request at a time, one every steadyPace at
// most, for at most steadyMaxTime (the test's waits for a promotion are
// shorter).
const (
	steadyPace        = 2 * time.Millisecond
	steadyMaxRequests = int(steadyMaxTime / steadyPace)
	steadyMaxTime     = 3 * time.Minute
)

// steady sends users' requests through every router in turn until stop is
// closed (or its bounds are reached: stopped is false then) and reports how
// many were sent and how many failed or were stamped with another version
// than the one that answered.
func (c *cluster) steady(stop <-chan struct{}) (sent, failed int, stopped bool) {
	deadline := time.Now().Add(steadyMaxTime)
	tick := time.NewTicker(steadyPace)
	defer tick.Stop()
	for sent < steadyMaxRequests && time.Now().Before(deadline) {
		select {
		case <-stop:
			return sent, failed, true
		case <-tick.C:
		}
		body, stamp := c.get(c.routers[sent%len(c.routers)], fmt.Sprintf("steady-%d", sent%500))
		if body == "" || body != stamp {
			if body != "" {
				c.logFailure("answered by %s but stamped %s", body, stamp)
			}
			failed++
		}
		sent++
	}
	return sent, failed, false
}

func (c *cluster) waitStatus(what string, budget time.Duration, cond func(api.RolloutStatus) bool) {
	c.t.Helper()
	eventually(c.t, budget, what, func() (bool, string) {
		st := c.rollout().Status
		return cond(st), fmt.Sprintf("phase %s step %d weights %+v observed %v message %q", st.Phase, st.StepIndex, st.Weights, st.ObservedWeights, st.Message)
	})
}

func (c *cluster) waitServes(router, revision string) {
	c.t.Helper()
	eventually(c.t, 30*time.Second, "router "+router+" serves "+revision, func() (bool, string) {
		body, stamp := c.get(router, "probe")
		return body == revision && stamp == revision, body + "/" + stamp
	})
}

// TestClusterCanaryThroughRouter is a whole canary release on Kubernetes, as
// a user runs it: kubectl patches start and promote it, two router replicas
// move real requests by ppm weights and agree user by user, `kanaria
// verify` proves the split and stickiness, the controller
// is killed mid-release and a new one resumes at the same step, and after
// promotion the user's own Deployment runs the new revision and kanaria's
// copies are gone.
func TestClusterCanaryThroughRouter(t *testing.T) {
	c := newCluster(t)
	c.createTarget()
	c.createRollout(api.Strategy{Canary: &api.CanaryStrategy{Baseline: true, Steps: []api.Step{
		{SetWeight: ptr.To(api.Weight(100_000))}, // 10 %
		{Pause: &api.Pause{}},
		{SetWeight: ptr.To(api.Weight(300_000))}, // 30 %
		{Pause: &api.Pause{}},
	}}})
	c.startController()
	c.startRouter("r1")
	c.startRouter("r2")
	c.waitStatus("initialized", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseHealthy && st.StableRevision == "v1"
	})
	c.waitServes(c.routers[0], "v1")
	c.waitServes(c.routers[1], "v1")

	c.patch(`{"spec":{"revision":"v2"}}`) // what `kanaria start v2` writes
	c.waitStatus("at the pause after 10 %", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhasePaused && st.StepIndex == 1 && st.Weights.CanaryPPM == 100_000 &&
			st.ObservedWeights != nil && st.ObservedWeights.CanaryPPM == 100_000
	})
	const users = 2000
	at10, failed := c.split(c.routers[0], users, "v2")
	if failed > 0 {
		t.Fatalf("%d of %d requests failed or were stamped with another version", failed, users)
	}
	// 10 % of 2000 users: 200 expected, sd 13.4; 5 sd either side.
	if n := len(at10); n < 133 || n > 267 {
		t.Fatalf("%d of %d users on the canary at 10 %%", n, users)
	}
	other, _ := c.split(c.routers[1], users, "v2")
	if fmt.Sprint(other) != fmt.Sprint(at10) {
		t.Fatalf("the two router replicas disagree: %d vs %d users on the canary", len(at10), len(other))
	}
	if s := c.kubelet.stampsSeen("v2"); s["v2"] == 0 || len(s) != 1 {
		t.Fatalf("the canary's pods got upstream stamps %v, want only v2", s)
	}
	// kanaria verify, as a user runs it against the cluster (the router's
	// address given, as after a kubectl port-forward): the split read from
	// the Rollout's weights, and stickiness.
	verify := exec.Command(binary.Kanaria(t), "verify", "--kubeconfig", c.env.Kubeconfig, "-n", shop, "-r", "web",
		"--url", "http://"+c.routers[1]+"/", "--requests", "2000", "--users", "50", "--per-user", "10")
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("kanaria verify at 10 %%: %v\n%s", err, out)
	} else {
		t.Logf("kanaria verify at 10 %%:\n%s", out)
	}

	// kill -9 of the controller while paused; users are still served by the
	// routers meanwhile, and a new controller resumes at the same step.
	c.ctrl.kill9(t)
	if _, failed := c.split(c.routers[0], 200, "v2"); failed > 0 {
		t.Fatalf("%d requests failed while the controller was down", failed)
	}
	c.startController()
	c.patch(`{"metadata":{"annotations":{"kanaria.dev/command":"promote/1"}}}`)
	c.waitStatus("at the pause after 30 %", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhasePaused && st.StepIndex == 3 && st.ObservedWeights != nil && st.ObservedWeights.CanaryPPM == 300_000
	})
	at30, failed := c.split(c.routers[0], users, "v2")
	if failed > 0 {
		t.Fatalf("%d requests failed at 30 %%", failed)
	}
	for u := range at10 {
		if !at30[u] {
			t.Fatalf("user %s was on the canary at 10 %% but not at 30 %%: stickiness must be monotonic", u)
		}
	}
	if n := len(at30); n < 500 || n > 700 {
		t.Fatalf("%d of %d users on the canary at 30 %%", n, users)
	}

	// From the last promote until the copies are gone (the target rolled
	// to v2 in place, traffic moved from the copy's Service to the
	// target's, the copy deleted) users are served all along: not one
	// request may fail.
	type result struct {
		sent, failed int
		stopped      bool
	}
	stopLoad, loadDone := make(chan struct{}), make(chan result, 1)
	var stopOnce sync.Once
	stopSteady := func() { stopOnce.Do(func() { close(stopLoad) }) }
	defer stopSteady()
	go func() {
		sent, failed, stopped := c.steady(stopLoad)
		loadDone <- result{sent, failed, stopped}
	}()
	c.patch(`{"metadata":{"annotations":{"kanaria.dev/command":"promote/2"}}}`)
	c.waitStatus("finished", 90*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseHealthy && st.StableRevision == "v2" && st.CanaryRevision == ""
	})
	c.waitServes(c.routers[0], "v2")
	eventually(t, 90*time.Second, "the target runs v2 and the copies are gone", func() (bool, string) {
		var d appsv1.Deployment
		if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: shop, Name: "web"}, &d); err != nil {
			return false, err.Error()
		}
		var list appsv1.DeploymentList
		_ = c.env.Client.List(context.Background(), &list, client.InNamespace(shop))
		return d.Spec.Template.Spec.Containers[0].Image == "ghcr.io/acme/web:v2" && len(list.Items) == 1,
			fmt.Sprintf("image %s, %d deployments", d.Spec.Template.Spec.Containers[0].Image, len(list.Items))
	})
	stopSteady()
	switch r := <-loadDone; {
	case r.failed > 0:
		t.Fatalf("%d of %d requests failed during the promotion in place", r.failed, r.sent)
	case !r.stopped:
		t.Fatalf("the load reached its bound (%d requests) before the copies were gone", r.sent)
	default:
		t.Logf("promotion in place: %d requests through both routers, none failed", r.sent)
	}
	for _, r := range c.routers {
		if _, failed := c.split(r, 500, "v2"); failed > 0 {
			t.Fatalf("%d requests through %s failed after promotion", failed, r)
		}
	}
}
