package routersync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/kube/routersync"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
	"github.com/kanaria-dev/kanaria/internal/testenv/netns"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// The cluster the test builds: one Rollout "web" in namespace shop, its
// three Services, and the router replicas' Leases and salt in kanaria-system.
const (
	appNS    = "shop"
	systemNS = "kanaria-system"
	host     = "shop.example"
	keys     = 2000
)

// TestRouterFollowsTheCluster runs `kanaria router --kubernetes` as real
// processes against a real API server (envtest) and sends real requests
// through them to HTTP servers playing pods in a network namespace.
//
// No kubelet, endpoint-slice controller or kanaria controller runs. The test
// stands in for them: it writes the Rollout's status.traffic as the router
// traffic provider does, and the EndpointSlices of the Services (with the
// Services' labels copied, and a named port, as the endpoint-slice
// controller writes them) pointing at the servers' addresses; readiness of a
// pod is the slice's ready condition.
func TestRouterFollowsTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server and router processes")
	}
	c := newCluster(t)

	// Two replicas start at once: both find the salt Secret missing and race
	// to create it; they must end up with the one salt the API server kept.
	a, b := c.startRouter(t, "a"), c.startRouter(t, "b")
	want := c.wantApplied(1, 100_000, 100_000, 2, 1, 1)
	c.waitLease(t, "a", want)
	c.waitLease(t, "b", want)
	salt := c.salt(t)

	t.Run("split, stamps and two replicas agreeing user by user", func(t *testing.T) {
		gotA, gotB := c.sendBoth(t, a, b, "user-")
		n := c.checkAssignment(t, gotA, salt, 100_000, 100_000)
		for i := range gotA {
			if gotA[i] != gotB[i] {
				t.Fatalf("user-%d: replica a answered %+v, replica b %+v", i, gotA[i], gotB[i])
			}
		}
		// Binomial(2000, 0.1) for canary and for baseline: within 5 sd.
		checkShare(t, "canary", n[router.Canary], 0.1)
		checkShare(t, "baseline", n[router.Baseline], 0.1)
		for _, p := range c.pods {
			if p.role == router.Stable && p.served.Load() == 0 {
				t.Errorf("stable pod %s got no request: the release should balance across both", p.addr)
			}
		}
		if got := c.notReady.served.Load(); got != 0 {
			t.Errorf("the not-ready stable endpoint got %d requests", got)
		}
		c.checkStamps(t)
		if code := c.status(t, a, "other.example"); code != http.StatusNotFound {
			t.Errorf("a host no Rollout routes: status %d, want 404", code)
		}
	})

	t.Run("a new weight in status moves users, and only onto the canary", func(t *testing.T) {
		before, _ := c.sendBoth(t, a, b, "user-")
		written := time.Now()
		c.setTraffic(t, 2, 500_000, 100_000)
		want := c.wantApplied(2, 500_000, 100_000, 2, 1, 1)
		c.waitLease(t, "a", want)
		c.waitLease(t, "b", want)
		t.Logf("status.traffic written to both leases reporting it: %v (polled every 50 ms)", time.Since(written).Round(time.Millisecond))
		after, afterB := c.sendBoth(t, a, b, "user-")
		n := c.checkAssignment(t, after, salt, 500_000, 100_000)
		checkShare(t, "canary", n[router.Canary], 0.5)
		for i := range before {
			if before[i].role == router.Canary && after[i].role != router.Canary {
				t.Fatalf("user-%d was on the canary at 10%% and left it at 50%%: %+v", i, after[i])
			}
			if after[i] != afterB[i] {
				t.Fatalf("user-%d: replica a answered %+v, replica b %+v", i, after[i], afterB[i])
			}
		}
	})

	t.Run("a canary whose pods are not ready gets no weight, and the lease says so", func(t *testing.T) {
		c.setReady(t, "web-canary", false)
		want := c.wantApplied(2, 0, 100_000, 2, 0, 1)
		c.waitLease(t, "a", want)
		got := c.send(t, a, "user-")
		if n := c.checkAssignment(t, got, salt, 0, 100_000); n[router.Canary] != 0 {
			t.Fatalf("%d requests on a canary without ready pods", n[router.Canary])
		}
		c.setReady(t, "web-canary", true)
		c.waitLease(t, "a", c.wantApplied(2, 500_000, 100_000, 2, 1, 1))
		c.waitLease(t, "b", c.wantApplied(2, 500_000, 100_000, 2, 1, 1))
	})

	t.Run("kill -9 of a replica: the other serves on, the restarted one serves the same table", func(t *testing.T) {
		before := c.send(t, b, "user-")
		if err := a.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		a.wait(t)
		killed := time.Now()
		during := c.send(t, b, "user-")
		for i := range before {
			if before[i] != during[i] {
				t.Fatalf("user-%d: replica b answered %+v before replica a was killed, %+v after", i, before[i], during[i])
			}
		}
		a2 := c.startRouter(t, "a")
		// The killed process's Lease says the same; the restarted one
		// takes it over and renews it.
		c.waitFor(t, "the restarted replica renewing lease a", func() bool {
			l := c.lease(t, "a")
			return l.Spec.RenewTime != nil && l.Spec.RenewTime.After(killed)
		})
		c.waitLease(t, "a", c.wantApplied(2, 500_000, 100_000, 2, 1, 1))
		restarted := c.send(t, a2, "user-")
		for i := range before {
			if before[i] != restarted[i] {
				t.Fatalf("user-%d: the restarted replica answered %+v, replica b %+v", i, restarted[i], before[i])
			}
		}
		a = a2
	})

	t.Run("a replica limited to another namespace serves none of shop's rollouts", func(t *testing.T) {
		o := c.startRouter(t, "other", "--namespace", "elsewhere")
		if code := c.status(t, o, host); code != http.StatusNotFound {
			t.Errorf("replica for namespace elsewhere answered %s with %d, want 404", host, code)
		}
		rep, err := traffic.ParseRouterReport(c.lease(t, "other").Annotations)
		if err != nil || len(rep.Rollouts) != 0 {
			t.Errorf("replica for namespace elsewhere reports %+v (%v), want no rollout", rep.Rollouts, err)
		}
		o.stop(t)
	})

	t.Run("the admin API reads only, and is ready", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", a.admin+"/v1/config", strings.NewReader(`{"routes":[],"releases":[]}`))
		req.Header.Set("Authorization", "Bearer "+a.token(t))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT /v1/config: %d, want 405", resp.StatusCode)
		}
		resp, err = http.Get(a.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/readyz: %d, want 200", resp.StatusCode)
		}
		if got := c.send(t, a, "user-"); got[0].role == "" {
			t.Fatal("no answer after the refused PUT")
		}
	})

	t.Run("a header route in status.traffic sends matching users to the canary on every replica", func(t *testing.T) {
		beta := api.SetHeaderRoute{Name: "beta", Match: []api.HeaderRoutingMatch{{HeaderName: "X-Beta", HeaderValue: api.StringMatch{Prefix: "yes"}}}}
		c.setTraffic(t, 3, 0, 100_000, beta) // no canary weight: only the route reaches it
		want := c.wantApplied(3, 0, 100_000, 2, 1, 1)
		c.waitLease(t, "a", want)
		c.waitLease(t, "b", want)
		for _, p := range []*routerProc{a, b} {
			for i, got := range c.sendHeader(t, p, "user-", "X-Beta", "yes-please") {
				if got.role != router.Canary || got.version != "v2" {
					t.Fatalf("replica %s, user-%d with X-Beta: %+v, want the canary", p.id, i, got)
				}
			}
			if n := c.checkAssignment(t, c.sendHeader(t, p, "user-", "X-Beta", "no"), salt, 0, 100_000); n[router.Canary] != 0 {
				t.Fatalf("replica %s: %d users without a matching header on the canary at weight 0", p.id, n[router.Canary])
			}
		}
		// The route removed from status: the header no longer matters.
		c.setTraffic(t, 4, 0, 100_000)
		c.waitLease(t, "a", c.wantApplied(4, 0, 100_000, 2, 1, 1))
		if n := c.checkAssignment(t, c.sendHeader(t, a, "user-", "X-Beta", "yes"), salt, 0, 100_000); n[router.Canary] != 0 {
			t.Fatalf("%d requests reached the canary after the route was removed", n[router.Canary])
		}
	})

	t.Run("the admin token and the override secret come from their Secrets", func(t *testing.T) {
		s := c.startRouter(t, "s", "--admin-token-secret", systemNS+"/"+routersync.DefaultAdminTokenSecret,
			"--override-secret", systemNS+"/kanaria-router-override")
		// The first replica naming the token Secret creates it; the admin
		// API takes that token, and no other.
		var token string
		c.waitFor(t, "the admin token Secret, and the admin API taking its token", func() bool {
			var sec corev1.Secret
			if c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: routersync.DefaultAdminTokenSecret}, &sec) != nil {
				return false
			}
			token = string(sec.Data[routersync.AdminTokenKey])
			return token != "" && c.adminStatus(t, s, token) == http.StatusOK
		})
		if code := c.adminStatus(t, s, token+"x"); code != http.StatusUnauthorized {
			t.Errorf("admin API with a wrong token: %d, want 401", code)
		}
		// A user the bucket puts on stable, forced to the canary.
		user := ""
		for i, a := range c.send(t, s, "user-") {
			if a.role == router.Stable {
				user = fmt.Sprint("user-", i)
				break
			}
		}
		force := func(secret string) router.Version {
			t.Helper()
			h := map[string]string{"X-User-Id": user, "X-Kanaria-Override": "canary"}
			if secret != "" {
				h["X-Kanaria-Override-Secret"] = secret
			}
			return c.sendAs(t, s, h)
		}
		// The override Secret does not exist: overrides are off, whatever
		// is presented.
		if got := force("guess"); got != router.Stable {
			t.Fatalf("override without its Secret: %s, want stable (overrides off)", got)
		}
		if got := force(""); got != router.Stable {
			t.Fatalf("override without its Secret or a secret: %s, want stable", got)
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "kanaria-router-override"},
			Data: map[string][]byte{routersync.OverrideSecretKey: []byte("open-sesame")}}
		c.create(t, sec)
		c.waitFor(t, "the override honoured with the Secret's value", func() bool { return force("open-sesame") == router.Canary })
		if got := force("wrong"); got != router.Stable {
			t.Errorf("override with a wrong secret: %s, want stable", got)
		}
		if got := force(""); got != router.Stable {
			t.Errorf("override with no secret: %s, want stable", got)
		}
		// Rotated: the old value stops working.
		sec.Data[routersync.OverrideSecretKey] = []byte("new-value")
		if err := c.env.Client.Update(context.Background(), sec); err != nil {
			t.Fatal(err)
		}
		c.waitFor(t, "the rotated override secret", func() bool { return force("new-value") == router.Canary })
		if got := force("open-sesame"); got != router.Stable {
			t.Errorf("override with the old secret after rotation: %s, want stable", got)
		}
		s.stop(t)
	})

	t.Run("the lease is renewed, says who holds it, and goes when the replica stops", func(t *testing.T) {
		l := c.lease(t, "b")
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "b" || l.Labels[traffic.RouterComponentLabel] != traffic.RouterComponent ||
			l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds <= 0 || l.Spec.RenewTime == nil {
			t.Fatalf("lease %s: holder %v, labels %v, duration %v, renewed %v", l.Name, l.Spec.HolderIdentity, l.Labels, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime)
		}
		rep, err := traffic.ParseRouterReport(l.Annotations)
		if err != nil || rep.AdminURL != b.admin {
			t.Fatalf("report %+v (%v): admin URL want %s", rep, err, b.admin)
		}
		first := l.Spec.RenewTime.Time
		c.waitFor(t, "lease b renewed", func() bool {
			l := c.lease(t, "b")
			return l.Spec.RenewTime != nil && l.Spec.RenewTime.After(first)
		})
		b.stop(t)
		c.waitFor(t, "lease b deleted after SIGTERM", func() bool {
			err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: traffic.RouterLeaseName("b")}, &coordinationv1.Lease{})
			return apierrors.IsNotFound(err)
		})
		if l := c.lease(t, "a"); l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "a" {
			t.Fatalf("lease a after b stopped: %+v", l.Spec)
		}
	})
}

// cluster is the test's API server, pods and the kanaria binary.
type cluster struct {
	// top is the test, not a subtest: replicas started in a subtest keep
	// running after it.
	top *testing.T
	env *kube.Env
	// kubeconfig is what the replicas use: the router's ServiceAccount of
	// config/rbac, by impersonation, so the least-privilege RBAC of the
	// install is what the test runs with.
	kubeconfig string
	bin        string
	dir        string
	pods       []*pod
	notReady   *pod // a stable endpoint marked not ready, that no request may reach
	mu         sync.Mutex
	n          int
}

// pod is an HTTP server playing one pod of a role.
type pod struct {
	role     router.Version
	revision string
	addr     netip.Addr
	served   atomic.Int64
	badStamp atomic.Int64 // requests whose upstream X-Kanaria-Version was not this pod's revision
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	env := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}})
	c := &cluster{top: t, env: env, dir: t.TempDir()}
	c.bin = binary.KanariaAsTest(t)
	ns := netns.New(t)

	// Every pod listens on the same port of its own address, as pods do.
	specs := []struct {
		role router.Version
		rev  string
	}{{router.Stable, "v1"}, {router.Stable, "v1"}, {router.Canary, "v2"}, {router.Baseline, "v1"}}
	var port uint16
	for _, s := range specs {
		p := &pod{role: s.role, revision: s.rev, addr: ns.AddAddr(t)}
		ln := ns.Listen(t, netip.AddrPortFrom(p.addr, port))
		port = uint16(ln.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port())
		go http.Serve(ln, p)
		c.pods = append(c.pods, p)
	}
	c.notReady = &pod{role: router.Stable, revision: "v1", addr: ns.AddAddr(t)}
	go http.Serve(ns.Listen(t, netip.AddrPortFrom(c.notReady.addr, port)), c.notReady)

	ctx := context.Background()
	for _, n := range []string{appNS, systemNS} {
		c.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	c.kubeconfig = c.asRouterServiceAccount(t)
	for _, role := range []router.Version{router.Stable, router.Canary, router.Baseline} {
		name := "web-" + string(role)
		labels := map[string]string{platform.LabelRollout: "web", platform.LabelRole: string(role)}
		// A named targetPort: the number is the slice's to say, as for pods.
		c.create(t, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: name, Labels: labels},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web", platform.LabelRole: string(role)},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		})
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: name + "-abcde", Labels: map[string]string{
				discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(port)), Protocol: ptr(corev1.ProtocolTCP)}},
		}
		for k, v := range labels {
			sl.Labels[k] = v
		}
		for _, p := range c.pods {
			if p.role == role {
				sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
			}
		}
		if role == router.Stable {
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{c.notReady.addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}})
		}
		c.create(t, sl)
	}

	ro := &kanariav1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "web"},
		Spec: api.RolloutSpec{
			Revision: "v1",
			Route:    api.Route{Hosts: []string{host}, KeyHeader: "X-User-Id"},
			Platform: api.Platform{Kubernetes: &api.KubernetesPlatform{
				WorkloadRef: api.WorkloadRef{Name: "web"},
				Containers:  []api.ContainerTemplate{{Name: "web", Image: "example.com/web:{{.Revision}}"}},
			}},
			Strategy: api.Strategy{Canary: &api.CanaryStrategy{Baseline: true, Steps: []api.Step{{SetWeight: ptr(api.Weight(100_000))}}}},
		},
	}
	c.create(t, ro)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ro), ro); err != nil {
		t.Fatal(err)
	}
	c.setTraffic(t, 1, 100_000, 100_000)
	return c
}

// asRouterServiceAccount installs the router's RBAC from config/rbac and
// returns a kubeconfig that acts as its ServiceAccount.
func (c *cluster) asRouterServiceAccount(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "config", "rbac", "router.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("config/rbac/router.yaml: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		switch u.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding": // kustomize puts them in the install's namespace
			u.SetNamespace(systemNS)
		}
		c.create(t, &u)
	}
	kc, err := clientcmd.LoadFromFile(c.env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range kc.AuthInfos {
		ai.Impersonate = "system:serviceaccount:" + systemNS + ":kanaria-router"
	}
	path := filepath.Join(c.dir, "router-kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func (c *cluster) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := c.env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// setTraffic writes status.traffic as the router traffic provider does.
func (c *cluster) setTraffic(t *testing.T, gen int64, canary, baseline api.Weight, routes ...api.SetHeaderRoute) {
	t.Helper()
	ctx := context.Background()
	ro := &kanariav1alpha1.Rollout{}
	if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "web"}, ro); err != nil {
		t.Fatal(err)
	}
	svc := func(role string) []string { return []string{fmt.Sprintf("http://web-%s.%s.svc:80", role, appNS)} }
	w := api.Weights{CanaryPPM: canary, BaselinePPM: baseline}
	ro.Status = api.RolloutStatus{
		Rollout: "web", Phase: api.PhaseProgressing, Generation: gen,
		StableRevision: "v1", CanaryRevision: "v2", StepIndex: 0, Weights: w, Baseline: true,
		Traffic: &api.TrafficStatus{
			Generation:   gen,
			Stable:       api.BackendStatus{Revision: "v1", Endpoints: svc("stable")},
			Canary:       &api.BackendStatus{Revision: "v2", Endpoints: svc("canary")},
			Baseline:     &api.BackendStatus{Revision: "v1", Endpoints: svc("baseline")},
			Weights:      w,
			HeaderRoutes: routes,
		},
		HeaderRoutes: routes,
	}
	if err := c.env.Client.Status().Update(ctx, ro); err != nil {
		t.Fatalf("writing status.traffic: %v", err)
	}
}

// setReady marks every endpoint of a Service's slice ready or not, as the
// endpoint-slice controller does when the pods' readiness changes.
func (c *cluster) setReady(t *testing.T, service string, ready bool) {
	t.Helper()
	ctx := context.Background()
	sl := &discoveryv1.EndpointSlice{}
	if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: service + "-abcde"}, sl); err != nil {
		t.Fatal(err)
	}
	for i := range sl.Endpoints {
		sl.Endpoints[i].Conditions.Ready = ptr(ready)
	}
	if err := c.env.Client.Update(ctx, sl); err != nil {
		t.Fatal(err)
	}
}

// wantApplied is the report a replica should publish for shop/web.
func (c *cluster) wantApplied(gen int64, canary, baseline api.Weight, nStable, nCanary, nBaseline int) traffic.AppliedTraffic {
	at := traffic.AppliedTraffic{
		Generation: gen, StableRevision: "v1", BaselineRevision: "v1", Baseline: baseline,
		Endpoints: map[string]int{"stable": nStable, "canary": nCanary, "baseline": nBaseline},
	}
	if nCanary > 0 {
		at.CanaryRevision, at.Canary = "v2", canary
	}
	return at
}

func (c *cluster) lease(t *testing.T, id string) *coordinationv1.Lease {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: traffic.RouterLeaseName(id)}, l); err != nil {
		t.Fatalf("lease of replica %s: %v", id, err)
	}
	return l
}

// waitLease waits until replica id's Lease reports want for shop/web.
func (c *cluster) waitLease(t *testing.T, id string, want traffic.AppliedTraffic) {
	t.Helper()
	var last string
	ok := poll(func() bool {
		l := &coordinationv1.Lease{}
		if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: traffic.RouterLeaseName(id)}, l); err != nil {
			last = err.Error()
			return false
		}
		rep, err := traffic.ParseRouterReport(l.Annotations)
		if err != nil {
			t.Fatalf("lease of replica %s: %v", id, err)
		}
		got := rep.Rollouts[traffic.RolloutKey(appNS, "web")]
		last = fmt.Sprintf("%+v", got)
		return equalApplied(got, want)
	})
	if !ok {
		t.Fatalf("timed out waiting for the lease of replica %s to report %+v; last: %s", id, want, last)
	}
}

func equalApplied(a, b traffic.AppliedTraffic) bool {
	if a.Generation != b.Generation || a.StableRevision != b.StableRevision || a.CanaryRevision != b.CanaryRevision ||
		a.BaselineRevision != b.BaselineRevision || a.Canary != b.Canary || a.Baseline != b.Baseline || len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for k, v := range b.Endpoints {
		if a.Endpoints[k] != v {
			return false
		}
	}
	return true
}

// salt is the salt the replicas share, read from its Secret.
func (c *cluster) salt(t *testing.T) string {
	t.Helper()
	var list corev1.SecretList
	if err := c.env.Client.List(context.Background(), &list, client.InNamespace(systemNS)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != routersync.DefaultSaltSecret || len(list.Items[0].Data[routersync.SaltKey]) < 16 {
		t.Fatalf("want one salt Secret %s with a random salt, got %+v", routersync.DefaultSaltSecret, list.Items)
	}
	return string(list.Items[0].Data[routersync.SaltKey])
}

// answer is what one request got: the pod's role (from its body) and the
// revision stamped on the response.
type answer struct {
	role    router.Version
	version string
}

// send sends one request per user (prefix + index) through a replica.
func (c *cluster) send(t *testing.T, p *routerProc, prefix string) []answer {
	t.Helper()
	return c.sendHeader(t, p, prefix, "", "")
}

// sendHeader is send with header name: value on every request.
func (c *cluster) sendHeader(t *testing.T, p *routerProc, prefix, name, value string) []answer {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second}
	out := make([]answer, keys)
	for i := range keys {
		req, _ := http.NewRequest("GET", p.proxy+"/", nil)
		req.Host = host
		req.Header.Set("X-User-Id", fmt.Sprintf("%s%d", prefix, i))
		if name != "" {
			req.Header.Set(name, value)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("request %d through replica %s: %v", i, p.id, err)
		}
		body := make([]byte, 64)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d through replica %s: status %d %q\n%s", i, p.id, resp.StatusCode, body[:n], p.stderr.String())
		}
		out[i] = answer{role: router.Version(strings.TrimSpace(string(body[:n]))), version: resp.Header.Get("X-Kanaria-Version")}
	}
	return out
}

// sendBoth sends the same users through two replicas at once.
func (c *cluster) sendBoth(t *testing.T, a, b *routerProc, prefix string) (gotA, gotB []answer) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); gotB = c.send(t, b, prefix) }()
	gotA = c.send(t, a, prefix)
	wg.Wait()
	return gotA, gotB
}

// sendAs sends one request with headers through a replica and returns the
// role of the pod that answered.
func (c *cluster) sendAs(t *testing.T, p *routerProc, headers map[string]string) router.Version {
	t.Helper()
	req, _ := http.NewRequest("GET", p.proxy+"/", nil)
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("through replica %s: %d %q", p.id, resp.StatusCode, b)
	}
	return router.Version(strings.TrimSpace(string(b)))
}

// adminStatus is the status of GET /v1/config on a replica's admin API.
func (c *cluster) adminStatus(t *testing.T, p *routerProc, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.admin+"/v1/config", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (c *cluster) status(t *testing.T, p *routerProc, h string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.proxy+"/", nil)
	req.Host = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkAssignment checks every user got the role its bucket says under the
// weights, with the role's revision stamped, and counts the roles.
func (c *cluster) checkAssignment(t *testing.T, got []answer, salt string, canary, baseline uint32) map[router.Version]int {
	t.Helper()
	n := map[router.Version]int{}
	for i, a := range got {
		b := router.Bucket(salt, fmt.Sprintf("user-%d", i))
		want := router.Stable
		switch {
		case b < canary:
			want = router.Canary
		case b >= router.PPMScale-baseline:
			want = router.Baseline
		}
		wantRev := "v1"
		if want == router.Canary {
			wantRev = "v2"
		}
		if a.role != want || a.version != wantRev {
			t.Fatalf("user-%d (bucket %d, canary %d baseline %d ppm): served by %s stamped %q, want %s stamped %q", i, b, canary, baseline, a.role, a.version, want, wantRev)
		}
		n[a.role]++
	}
	return n
}

func (c *cluster) checkStamps(t *testing.T) {
	t.Helper()
	for _, p := range c.pods {
		if n := p.badStamp.Load(); n > 0 {
			t.Errorf("pod %s (%s %s): %d requests arrived without X-Kanaria-Version %s", p.addr, p.role, p.revision, n, p.revision)
		}
	}
}

func checkShare(t *testing.T, what string, n int, p float64) {
	t.Helper()
	mean, sd := keys*p, math.Sqrt(keys*p*(1-p))
	if f := float64(n); f < mean-5*sd || f > mean+5*sd {
		t.Errorf("%s share %d of %d outside [%.0f, %.0f]", what, n, keys, mean-5*sd, mean+5*sd)
	}
}

// waitFor waits until cond holds, or fails the test saying what it waited for.
func (c *cluster) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll checks cond every 50 ms for at most 60 s: the replicas react to a
// watch event, which on a loaded 2-core machine may take seconds.
func poll(cond func() bool) bool {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func (p *pod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.served.Add(1)
	if r.Header.Get("X-Kanaria-Version") != p.revision {
		p.badStamp.Add(1)
	}
	fmt.Fprintln(w, p.role)
}

func ptr[T any](v T) *T { return &v }
