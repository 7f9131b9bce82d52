package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/internal/testenv/netns"
)

// fakeKubelet is a FAKE: it stands in for the parts of a cluster that do
// not run here, the kubelet and the endpoint-slice controller. It models
// only what kanaria reads of them:
//
//   - a Deployment's pods: one HTTP server per Deployment and pod template,
//     listening in the test's network namespace on its own address and the
//     container's port, answering with the template's REVISION env
//     variable (and recording the version stamp the router sent upstream),
//     or, for a pod given as "deployment/revision:errors", answering every
//     other request with 500 (a bad release);
//   - a Deployment's status: all spec.replicas pods of the current template
//     updated, ready and available, observedGeneration caught up (a
//     Deployment scaled to 0 has no pods);
//   - EndpointSlices: for each Service, one slice (label
//     kubernetes.io/service-name) listing the servers of the Deployments whose
//     pod labels match the Service's selector, with the Service's labels and
//     port names. They are written before the Deployments' status, in the
//     order a cluster has them: the endpoint-slice controller lists a new
//     pod once it is ready and drops an old one once it terminates, and the
//     deployment controller reports the rollout complete only after that
//     (its old ReplicaSet scaled down, the new pods available).
//
// Real traffic flows all the same: the router dials these servers over the
// veth pair.
type fakeKubelet struct {
	t  *testing.T
	c  client.Client
	ns string
	nn *netns.Namespace

	mu      sync.Mutex
	servers map[string]*podServer // by Deployment name and template revision
}

// podServer is the one "pod" of a Deployment's template.
type podServer struct {
	addr     netip.AddrPort
	revision string
	mu       sync.Mutex
	stamps   map[string]int // X-Kanaria-Version values received upstream
	requests int
	failing  bool // every other request answers 500
}

// newFakeKubelet starts the fake for namespace ns. pods are the "pods" it
// may run, "deployment/revision" (or "deployment/revision:errors") each:
// they are started here, on the test's
// goroutine, because opening a listener in the network namespace may fail
// the test, which only the test's goroutine may do.
func newFakeKubelet(t *testing.T, c client.Client, ns string, port int32, pods ...string) *fakeKubelet {
	k := &fakeKubelet{t: t, c: c, ns: ns, nn: netns.New(t), servers: map[string]*podServer{}}
	for _, p := range pods {
		dep, rev, _ := strings.Cut(p, "/")
		rev, mode, _ := strings.Cut(rev, ":")
		k.start(dep, rev, port, mode == "errors")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := k.sync(ctx); err != nil && ctx.Err() == nil {
				t.Logf("fake kubelet: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return k
}

// revisionOf is the template's REVISION env variable (what kanaria's
// Kubernetes platform renders from {{.Revision}}).
func revisionOf(tpl corev1.PodTemplateSpec) string {
	for _, c := range tpl.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "REVISION" {
				return e.Value
			}
		}
	}
	return ""
}

// sync brings statuses, servers and EndpointSlices in line with the
// Deployments and Services of the namespace, once.
func (k *fakeKubelet) sync(ctx context.Context) error {
	var deps appsv1.DeploymentList
	if err := k.c.List(ctx, &deps, client.InNamespace(k.ns)); err != nil {
		return err
	}
	live := map[string]*podServer{} // by Deployment name: its current pod
	for i := range deps.Items {
		d := &deps.Items[i]
		if d.Spec.Replicas == nil || *d.Spec.Replicas > 0 {
			p := k.server(d.Name, revisionOf(d.Spec.Template))
			if p == nil {
				return fmt.Errorf("deployment %s runs revision %q, which the test did not give the fake a pod for", d.Name, revisionOf(d.Spec.Template))
			}
			live[d.Name] = p
		}
	}

	var svcs corev1.ServiceList
	if err := k.c.List(ctx, &svcs, client.InNamespace(k.ns)); err != nil {
		return err
	}
	for i := range svcs.Items {
		if err := k.syncSlice(ctx, &svcs.Items[i], deps.Items, live); err != nil {
			return err
		}
	}

	for i := range deps.Items {
		d := &deps.Items[i]
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		want := appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
		if d.Status.ObservedGeneration == want.ObservedGeneration && d.Status.ReadyReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas {
			continue
		}
		d.Status = want
		if err := k.c.Status().Update(ctx, d); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment %s status: %w", d.Name, err)
		}
	}
	return nil
}

// syncSlice writes the Service's EndpointSlice as the endpoint-slice
// controller would.
func (k *fakeKubelet) syncSlice(ctx context.Context, svc *corev1.Service, deps []appsv1.Deployment, live map[string]*podServer) error {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var eps []discoveryv1.Endpoint
	var names []string
	for _, d := range deps {
		p := live[d.Name]
		if p == nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		names = append(names, d.Name)
		ready := true
		eps = append(eps, discoveryv1.Endpoint{
			Addresses:  []string{p.addr.Addr().String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: k.ns, Name: d.Name + "-pod"},
		})
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Addresses[0] < eps[j].Addresses[0] })
	var ports []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		name, proto := sp.Name, corev1.ProtocolTCP
		port := sp.TargetPort.IntVal
		if port == 0 {
			port = sp.Port
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto})
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: k.ns, Name: svc.Name + "-fake"}}
	err := k.c.Get(ctx, client.ObjectKeyFromObject(slice), slice)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	exists := err == nil
	if exists && fmt.Sprint(slice.Endpoints) == fmt.Sprint(eps) && fmt.Sprint(slice.Ports) == fmt.Sprint(ports) && slice.Labels["kanaria.dev/rollout"] == svc.Labels["kanaria.dev/rollout"] {
		return nil
	}
	// The endpoint-slice controller copies the Service's labels onto its
	// slices (kanaria's router selects them by kanaria.dev/rollout).
	slice.Labels = map[string]string{}
	for k, v := range svc.Labels {
		slice.Labels[k] = v
	}
	slice.Labels[discoveryv1.LabelServiceName] = svc.Name
	slice.Labels[discoveryv1.LabelManagedBy] = "fake-kubelet.kanaria.dev"
	slice.AddressType = discoveryv1.AddressTypeIPv4
	slice.Endpoints, slice.Ports = eps, ports
	if exists {
		err = k.c.Update(ctx, slice)
	} else {
		err = k.c.Create(ctx, slice)
	}
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("endpointslice %s (%s): %w", slice.Name, strings.Join(names, ","), err)
	}
	return nil
}

// server returns the pod server of a Deployment's template revision, nil
// if the test did not start one.
func (k *fakeKubelet) server(deployment, revision string) *podServer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.servers[deployment+"/"+revision]
}

// start opens a pod server in the network namespace, on its own address
// and the container port.
func (k *fakeKubelet) start(deployment, revision string, port int32, failing bool) {
	addr := netip.AddrPortFrom(k.nn.AddAddr(k.t), uint16(port))
	ln := k.nn.Listen(k.t, addr)
	p := &podServer{addr: addr, revision: revision, stamps: map[string]int{}, failing: failing}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	k.t.Cleanup(func() { srv.Close() })
	k.mu.Lock()
	k.servers[deployment+"/"+revision] = p
	k.mu.Unlock()
}

// ServeHTTP answers as the demo app does: the revision, with the pod's name.
func (p *podServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	p.stamps[r.Header.Get("X-Kanaria-Version")]++
	fail := p.failing && p.requests%2 == 0
	p.mu.Unlock()
	if fail {
		http.Error(w, p.revision+" failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, p.revision)
}

// stampsSeen reports what version stamps the pods of revision got upstream.
func (k *fakeKubelet) stampsSeen(revision string) map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for _, p := range k.servers {
		if p.revision != revision {
			continue
		}
		p.mu.Lock()
		for s, n := range p.stamps {
			out[s] += n
		}
		p.mu.Unlock()
	}
	return out
}
