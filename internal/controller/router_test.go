package controller_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// routerProc is a `kanaria router --kubernetes` process.
type routerProc struct {
	cmd  *exec.Cmd
	out  *controllerProc // its log, kept the same way
	done chan struct{}
}

// startRouter runs router replica id for this namespace (its Lease and
// salt live here too).
func (n *ns) startRouter(id string) *routerProc {
	n.t.Helper()
	cmd := exec.Command(binary.KanariaAsTest(n.t), "router", "--kubernetes", "--kubeconfig", n.cl.env.Kubeconfig,
		"--namespace", n.name, "--id", id, "--lease-namespace", n.name, "--salt-secret", n.name+"/kanaria-router-salt",
		"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token-file", filepath.Join(n.t.TempDir(), "token"))
	log := &controllerProc{name: "router " + id}
	cmd.Stdout, cmd.Stderr = log, log
	p := &routerProc{cmd: cmd, out: log, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	n.t.Cleanup(func() {
		p.kill()
		if strings.Contains(log.log(), "WARNING: DATA RACE") {
			n.t.Errorf("router %s: the race detector found a data race", id)
		}
		if n.t.Failed() {
			n.t.Logf("--- log of router %s:\n%s", id, log.log())
		}
	})
	return p
}

func (p *routerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// endpointSlices stands in for the endpoint-slice controller: every
// Service kanaria made gets a slice with one ready address per ready
// replica of the Deployment whose pods it selects. The addresses are in
// 198.18.0.0/15 (nothing listens there, and no request is sent: this test
// is about what the router replicas apply and report, not about serving).
func (n *ns) endpointSlices() {
	var svcs corev1.ServiceList
	if err := n.c.List(n.ctx(), &svcs, client.InNamespace(n.name), client.HasLabels{platform.LabelRollout}); err != nil {
		return
	}
	var ds appsv1.DeploymentList
	if err := n.c.List(n.ctx(), &ds, client.InNamespace(n.name)); err != nil {
		return
	}
	for _, svc := range svcs.Items {
		ready := 0
		for _, d := range ds.Items {
			if d.DeletionTimestamp == nil && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				ready = int(d.Status.ReadyReplicas)
			}
		}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: n.name, Name: svc.Name + "-x", Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
				platform.LabelRollout: svc.Labels[platform.LabelRollout], platform.LabelRole: svc.Labels[platform.LabelRole],
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080)), Protocol: new(corev1.ProtocolTCP)}},
		}
		third := map[string]int{"stable": 1, "canary": 2, "baseline": 3}[svc.Labels[platform.LabelRole]]
		for i := range ready {
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("198.18.%d.%d", third, i+1)},
				Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
			})
		}
		var have discoveryv1.EndpointSlice
		err := n.c.Get(n.ctx(), client.ObjectKeyFromObject(sl), &have)
		switch {
		case apierrors.IsNotFound(err):
			_ = n.c.Create(n.ctx(), sl)
		case err == nil && len(have.Endpoints) != len(sl.Endpoints):
			have.Endpoints = sl.Endpoints
			_ = n.c.Update(n.ctx(), &have)
		}
	}
}

// routerReport is what replica id's Lease says it applied for web.
func (n *ns) routerReport(id string) (traffic.AppliedTraffic, bool) {
	var l coordinationv1.Lease
	if err := n.c.Get(n.ctx(), n.key(traffic.RouterLeaseName(id)), &l); err != nil {
		return traffic.AppliedTraffic{}, false
	}
	rep, err := traffic.ParseRouterReport(l.Annotations)
	if err != nil {
		return traffic.AppliedTraffic{}, false
	}
	at, ok := rep.Rollouts[traffic.RolloutKey(n.name, "web")]
	return at, ok
}

// testRouterTraffic: with the default traffic provider, kanaria's router,
// the controller writes the assignment into status.traffic and counts the
// weights as read back only when the router replica's Lease reports them.
// An abort while the only router replica is dead sets the weights in the
// status at once but deletes the canary's copy only after a replica has
// applied them: until then a router may still send users to it.
func testRouterTraffic(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n.endpointSlices()
			select {
			case <-stop:
				return
			case <-n.kubeletTick():
			}
		}
	}()
	t.Cleanup(func() { close(stop) })
	sp := canarySpec("web", v1alpha1.Step{SetWeight: weight(25)}, v1alpha1.Step{Pause: &v1alpha1.Pause{}})
	sp.Traffic = nil
	n.createRollout("web", sp)
	r := n.startRouter("r0")
	n.startController("a")

	st := n.waitStatus("web", "the router's read-back of stable alone", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.ObservedWeights != nil && st.Traffic != nil
	})
	if tr := st.Traffic; tr.Stable.Revision != "v1" || len(tr.Stable.Endpoints) != 1 || tr.Stable.Endpoints[0] != "http://web-stable."+n.name+".svc:8080" || tr.Canary != nil {
		t.Errorf("status.traffic: %+v", tr)
	}

	n.setRevision("web", "v2")
	st = n.waitStatus("web", "25% read back from the router", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.ObservedWeights != nil && *st.ObservedWeights == v1alpha1.Weights{CanaryPPM: *weight(25)}
	})
	if at, ok := n.routerReport("r0"); !ok || at.Canary != *weight(25) || at.CanaryRevision != "v2" || at.Generation != st.Traffic.Generation {
		t.Errorf("router r0 reports %+v (ok %v); status.traffic generation %d", at, ok, st.Traffic.Generation)
	}

	r.kill()
	n.command("web", "abort", "a1")
	n.waitStatus("web", "aborted, waiting for the router", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseAborted && st.Traffic != nil && st.Traffic.Canary == nil &&
			strings.Contains(condition(st, v1alpha1.ConditionProgressing).Message, "waiting for the traffic to be read back")
	})
	if n.deployment("web-canary") == nil {
		t.Fatal("the canary copy was deleted while no router replica had applied the abort")
	}
	n.startRouter("r0")
	n.eventually("the copy deleted once the router applied the abort", func() (bool, string) {
		at, _ := n.routerReport("r0")
		return n.deployment("web-canary") == nil, fmt.Sprintf("router reports %+v", at)
	})
	if at, ok := n.routerReport("r0"); !ok || at.Canary != 0 || at.CanaryRevision != "" {
		t.Errorf("router r0 reports %+v after the abort", at)
	}
}
