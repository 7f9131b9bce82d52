package controller_test

// The harness of the controller's tests: one real API server (envtest) for
// the test binary, a namespace per test, the real `kanaria controller`
// binary as a process per test (killed with SIGKILL where a test says so),
// and a stand-in for the Kubernetes components that do not run here.
//
// No kubelet, scheduler or deployment controller runs beside envtest's
// kube-apiserver and etcd. kubelet.run stands in for them: it writes each
// Deployment's status as the deployment controller would once its pods are
// up (every replica updated, ready and available, for the latest
// generation), unless the test holds that Deployment back or makes it fail.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/controller"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }

// waitTimeout bounds every wait for the controller: generous, since the
// machine is shared; a healthy wait takes well under a second, except where
// a test waits for a deadline of the release itself.
const waitTimeout = 90 * time.Second

// cluster is one API server shared by the subtests of a test.
type cluster struct {
	env *kube.Env
	c   client.WithWatch
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	env := kube.Start(t, kube.Options{
		CRDDirs: []string{kube.KanariaCRDs(t), kube.GatewayAPICRDs(t)},
		Scheme:  scheme,
	})
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, c: c}
}

// ns is one test's namespace, its stand-in kubelet and its controllers.
type ns struct {
	t       *testing.T
	cl      *cluster
	c       client.WithWatch
	name    string
	kubelet *kubelet
}

// newNamespace creates a namespace for t, with the kubelet stand-in
// running in it until t ends.
func (cl *cluster) newNamespace(t *testing.T) *ns {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	name = strings.Trim(name, "-")
	n := &ns{t: t, cl: cl, c: cl.c, name: name}
	ctx := context.Background()
	if err := cl.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithCancel(ctx)
	n.kubelet = &kubelet{c: cl.c, ns: name, hold: map[string]bool{}, fail: map[string]bool{}}
	done := make(chan struct{})
	go func() { defer close(done); n.kubelet.run(kctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			n.dump()
		}
	})
	return n
}

// kubelet stands in for the kubelet and the deployment controller (see
// the file comment).
type kubelet struct {
	c    client.Client
	ns   string
	mu   sync.Mutex
	hold map[string]bool // Deployments whose status is not written
	fail map[string]bool // Deployments that exceed their progress deadline
}

// kubeletTick paces the other stand-ins like the kubelet's.
func (n *ns) kubeletTick() <-chan time.Time { return time.After(50 * time.Millisecond) }

func (k *kubelet) run(ctx context.Context) {
	for ctx.Err() == nil {
		k.sync(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (k *kubelet) sync(ctx context.Context) {
	var list appsv1.DeploymentList
	if err := k.c.List(ctx, &list, client.InNamespace(k.ns)); err != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range list.Items {
		d := &list.Items[i]
		if k.hold[d.Name] || d.DeletionTimestamp != nil {
			continue
		}
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		want := appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		}
		cond := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}
		if k.fail[d.Name] {
			want.ReadyReplicas, want.AvailableReplicas = 0, 0
			cond = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", d.Name)}
		}
		if len(d.Status.Conditions) == 1 {
			cond.LastUpdateTime, cond.LastTransitionTime = d.Status.Conditions[0].LastUpdateTime, d.Status.Conditions[0].LastTransitionTime
		}
		want.Conditions = []appsv1.DeploymentCondition{cond}
		if reflect.DeepEqual(d.Status, want) {
			continue
		}
		d.Status = want
		_ = k.c.Status().Update(ctx, d) // a conflict is retried on the next round
	}
}

// holdBack stops (or resumes) writing the status of Deployment name.
func (k *kubelet) holdBack(name string, hold bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hold[name] = hold
}

// failing makes Deployment name exceed its progress deadline.
func (k *kubelet) failing(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail[name] = true
}

// controllerProc is a `kanaria controller` process.
type controllerProc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *controllerProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *controllerProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startController runs `kanaria controller` for this namespace; extra
// flags are appended. It is stopped (SIGKILL) when the test ends.
func (n *ns) startController(name string, extra ...string) *controllerProc {
	n.t.Helper()
	p, err := n.runController(name, extra...)
	if err != nil {
		n.t.Fatal(err)
	}
	return p
}

// runController is startController for any goroutine: it reports an
// error instead of failing the test.
func (n *ns) runController(name string, extra ...string) (*controllerProc, error) {
	args := append([]string{"controller", "--kubeconfig", n.cl.env.Kubeconfig, "--namespace", n.name,
		"--health-probe-bind-address", "0", "--metrics-bind-address", "0", "--poll-interval", "100ms",
		"--router-namespace", n.name}, extra...)
	p := &controllerProc{name: name, cmd: exec.Command(binary.KanariaAsTest(n.t), args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	n.t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.log(), "WARNING: DATA RACE") {
			n.t.Errorf("controller %s: the race detector found a data race", p.name)
		}
		if n.t.Failed() {
			n.t.Logf("--- log of controller %s:\n%s", p.name, p.log())
		}
	})
	return p, nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *controllerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// eventually polls cond until it holds or waitTimeout passes; cond's
// string says what it saw, for the failure message.
func (n *ns) eventually(what string, cond func() (bool, string)) {
	n.t.Helper()
	n.eventuallyWithin(waitTimeout, what, cond)
}

func (n *ns) eventuallyWithin(d time.Duration, what string, cond func() (bool, string)) {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("waited %v for %s; last seen: %s", d, what, saw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *ns) ctx() context.Context { return context.Background() }

func (n *ns) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: n.name, Name: name}
}

// rollout reads a Rollout.
func (n *ns) rollout(name string) *kanariav1alpha1.Rollout {
	n.t.Helper()
	var ro kanariav1alpha1.Rollout
	if err := n.c.Get(n.ctx(), n.key(name), &ro); err != nil {
		n.t.Fatal(err)
	}
	return &ro
}

// deployment reads a Deployment; nil when there is none.
func (n *ns) deployment(name string) *appsv1.Deployment {
	n.t.Helper()
	var d appsv1.Deployment
	err := n.c.Get(n.ctx(), n.key(name), &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		n.t.Fatal(err)
	}
	return &d
}

// waitStatus waits until the Rollout's status satisfies cond.
func (n *ns) waitStatus(name, what string, cond func(st v1alpha1.RolloutStatus) bool) v1alpha1.RolloutStatus {
	n.t.Helper()
	var st v1alpha1.RolloutStatus
	n.eventually(what, func() (bool, string) {
		st = n.rollout(name).Status
		return cond(st), fmt.Sprintf("phase %s, stable %s, canary %s, step %s (index %d), weights %s/%s, message %q, conditions %s",
			st.Phase, st.StableRevision, st.CanaryRevision, st.Step, st.StepIndex, st.Weights.CanaryPPM, st.Weights.BaselinePPM, st.Message, conditions(st))
	})
	return st
}

// waitStep waits for the phase and the printer column's step.
func (n *ns) waitStep(name string, phase v1alpha1.Phase, step string) v1alpha1.RolloutStatus {
	n.t.Helper()
	return n.waitStatus(name, fmt.Sprintf("%s at step %s", phase, step), func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == phase && st.Step == step
	})
}

func conditions(st v1alpha1.RolloutStatus) string {
	var b strings.Builder
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "[%s=%s %s: %s] ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// condition returns the Rollout's condition of type typ.
func condition(st v1alpha1.RolloutStatus, typ string) v1alpha1.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return v1alpha1.Condition{}
}

// patchSpec merge-patches the Rollout as a kubectl user would: a JSON merge
// patch of the fields named.
func (n *ns) patch(name, patch string) {
	n.t.Helper()
	ro := &kanariav1alpha1.Rollout{}
	ro.Namespace, ro.Name = n.name, name
	if err := n.c.Patch(n.ctx(), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		n.t.Fatalf("patch %s: %v", patch, err)
	}
}

// setRevision is `kanaria start rev` against a cluster.
func (n *ns) setRevision(name, rev string) {
	n.patch(name, fmt.Sprintf(`{"spec":{"revision":%q}}`, rev))
}

// command is a one-shot command: `kanaria promote` (and abort, undo, stop)
// against a cluster.
func (n *ns) command(name, verb, id string) {
	n.patch(name, fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, kanariav1alpha1.CommandAnnotation, kanariav1alpha1.FormatCommand(verb, id)))
}

// events are the Rollout's Events' reasons, oldest first.
func (n *ns) events(name string) []corev1.Event {
	n.t.Helper()
	var list corev1.EventList
	if err := n.c.List(n.ctx(), &list, client.InNamespace(n.name)); err != nil {
		n.t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "Rollout" && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	// Oldest first: events.k8s.io Events carry a microsecond eventTime.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && eventTime(out[j]).Before(eventTime(out[j-1])); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.LastTimestamp.Time
}

// waitEvent waits for an Event of the Rollout with this reason whose
// message contains substr.
func (n *ns) waitEvent(name, reason, substr string) corev1.Event {
	n.t.Helper()
	var found corev1.Event
	n.eventually(fmt.Sprintf("event %s %q", reason, substr), func() (bool, string) {
		evs := n.events(name)
		var seen []string
		for _, e := range evs {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.Reason == reason && strings.Contains(e.Message, substr) {
				found = e
				return true, ""
			}
		}
		return false, strings.Join(seen, " | ")
	})
	return found
}

// dump logs what the namespace holds, for a failed test.
func (n *ns) dump() {
	ctx := context.Background()
	var ros kanariav1alpha1.RolloutList
	if err := n.c.List(ctx, &ros, client.InNamespace(n.name)); err == nil {
		for _, ro := range ros.Items {
			n.t.Logf("rollout %s: phase %s stable %s canary %s step %s weights %s observed %v message %q lastCommand %q observedRevision %q %s",
				ro.Name, ro.Status.Phase, ro.Status.StableRevision, ro.Status.CanaryRevision, ro.Status.Step, ro.Status.Weights.CanaryPPM,
				ro.Status.ObservedWeights, ro.Status.Message, ro.Status.LastCommand, ro.Status.ObservedRevision, conditions(ro.Status))
			for _, e := range n.events(ro.Name) {
				n.t.Logf("  event %s %s: %s", e.Type, e.Reason, e.Message)
			}
		}
	}
	var ds appsv1.DeploymentList
	if err := n.c.List(ctx, &ds, client.InNamespace(n.name)); err == nil {
		for _, d := range ds.Items {
			n.t.Logf("deployment %s: replicas %v annotations %v labels %v template labels %v image %s status %+v",
				d.Name, ptrValue(d.Spec.Replicas), d.Annotations, d.Labels, d.Spec.Template.Labels,
				d.Spec.Template.Spec.Containers[0].Image, d.Status)
		}
	}
}

func ptrValue(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}

// target creates the user's Deployment name: replicas pods of two
// containers, web (port 8080, image web:<rev>) and a log-shipper sidecar.
func (n *ns) target(name string, replicas int32, rev string) *appsv1.Deployment {
	n.t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: n.name, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "web", Image: "registry.example/web:" + rev, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
					{Name: "shipper", Image: "registry.example/shipper:1"},
				}},
			},
		},
	}
	if err := n.c.Create(n.ctx(), d); err != nil {
		n.t.Fatal(err)
	}
	return d
}

// createRollout creates a Rollout from YAML-free Go: spec with the
// kubernetes platform releasing Deployment target.
func (n *ns) createRollout(name string, sp v1alpha1.RolloutSpec) *kanariav1alpha1.Rollout {
	n.t.Helper()
	ro := &kanariav1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: n.name, Name: name}, Spec: sp}
	if err := n.c.Create(n.ctx(), ro); err != nil {
		n.t.Fatal(err)
	}
	return ro
}

// kubernetesPlatform releases container web of Deployment target.
func kubernetesPlatform(target string) v1alpha1.Platform {
	return v1alpha1.Platform{Kubernetes: &v1alpha1.KubernetesPlatform{
		WorkloadRef: v1alpha1.WorkloadRef{Name: target},
		Containers: []v1alpha1.ContainerTemplate{{
			Name: "web", Image: "registry.example/web:{{.Revision}}",
			Env: []v1alpha1.EnvVar{{Name: "REVISION", Value: "{{.Revision}}"}},
		}},
	}}
}

func weight(pct float64) *v1alpha1.Weight {
	w := v1alpha1.Weight(pct * 10000)
	return &w
}

func duration(d time.Duration) *v1alpha1.Duration {
	v := v1alpha1.Duration(d)
	return &v
}

// image is the web container's image of a Deployment.
func image(d *appsv1.Deployment) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "web" {
			return c.Image
		}
	}
	return ""
}
