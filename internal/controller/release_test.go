package controller_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// TestController drives the real `kanaria controller` binary against a real
// API server through the patches a kubectl user (or `kanaria` against a
// cluster) writes. No kubelet runs: the namespace's kubelet stand-in writes
// the Deployments' status (see harness_test.go), so readiness is what the
// test says it is. Most subtests move the weights with the replicas
// traffic provider (pods behind the user's own Service), which needs
// nothing but the API server; blue/green goes through HTTPRoutes, and the
// router subtest through `kanaria router --kubernetes` processes, whose
// serving has its own tests (internal/kube/routersync).
func TestController(t *testing.T) {
	cl := startCluster(t)
	t.Run("canary", func(t *testing.T) { testCanary(t, cl) })
	t.Run("abort", func(t *testing.T) { testAbort(t, cl) })
	t.Run("undo", func(t *testing.T) { testUndo(t, cl) })
	t.Run("bluegreen", func(t *testing.T) { testBlueGreen(t, cl) })
	t.Run("gatewayapi", func(t *testing.T) { testGatewayAPICanary(t, cl) })
	t.Run("invalid", func(t *testing.T) { testInvalid(t, cl) })
	t.Run("resume", func(t *testing.T) { testResume(t, cl) })
	t.Run("leader", func(t *testing.T) { testLeaderElection(t, cl) })
	t.Run("chaos", func(t *testing.T) { testChaos(t, cl) })
	t.Run("router", func(t *testing.T) { testRouterTraffic(t, cl) })
	t.Run("pause", func(t *testing.T) { testPause(t, cl) })
	t.Run("failed", func(t *testing.T) { testFailedCanary(t, cl) })
	t.Run("analysis", func(t *testing.T) { testAnalysis(t, cl) })
}

// canarySpec: setWeight 25, a timed pause, setWeight 50, a pause for
// promote; the replicas provider.
func canarySpec(target string, steps ...v1alpha1.Step) v1alpha1.RolloutSpec {
	if steps == nil {
		steps = []v1alpha1.Step{
			{SetWeight: weight(25)},
			{Pause: &v1alpha1.Pause{Duration: duration(time.Second)}},
			{SetWeight: weight(50)},
			{Pause: &v1alpha1.Pause{}},
		}
	}
	return v1alpha1.RolloutSpec{
		Revision: "v1",
		Platform: kubernetesPlatform(target),
		Traffic:  &v1alpha1.Traffic{Replicas: &v1alpha1.ReplicasTraffic{}},
		Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}},
	}
}

// testCanary: a whole canary release driven by spec.revision and the
// promote annotation: the target is adopted, the copy runs v2 and gets the
// pods of each weight, promotion makes v2 stable, and after the scale-down
// delay the target itself runs v2 and the copy is gone.
func testCanary(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 3, "v0")
	n.createRollout("web", canarySpec("web"))
	n.startController("a")

	st := n.waitStatus("web", "Healthy with v1 ready", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && condition(st, v1alpha1.ConditionReady).Status == v1alpha1.ConditionTrue
	})
	if st.StableRevision != "v1" || st.ObservedRevision != "v1" || condition(st, v1alpha1.ConditionInvalid).Status != v1alpha1.ConditionFalse {
		t.Fatalf("initial status: %+v", st)
	}
	d := n.deployment("web")
	if image(d) != "registry.example/web:v1" || d.Spec.Template.Labels["kanaria.dev/role"] != "stable" || d.Annotations["kanaria.dev/revision"] != "v1" {
		t.Fatalf("target not adopted for v1: image %s, template labels %v, annotations %v", image(d), d.Spec.Template.Labels, d.Annotations)
	}
	if len(d.OwnerReferences) != 0 {
		t.Errorf("the user's target got owner references %v", d.OwnerReferences)
	}

	n.setRevision("web", "v2")
	st = n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	if st.CanaryRevision != "v2" || st.Weights.CanaryPPM != *weight(50) || st.PausedBy != "step" {
		t.Fatalf("at the last pause: %+v", st)
	}
	if c := condition(st, v1alpha1.ConditionPaused); c.Status != v1alpha1.ConditionTrue || c.Reason != "PauseStep" {
		t.Errorf("Paused condition %+v", c)
	}
	if c := condition(st, v1alpha1.ConditionProgressing); c.Status != v1alpha1.ConditionTrue || !strings.Contains(c.Message, "pods") {
		t.Errorf("Progressing condition %+v; want the replicas provider's account of the pods", c)
	}
	if st.CanaryWeight != "50%" {
		t.Errorf("canaryWeight column %q", st.CanaryWeight)
	}
	// The read-back follows once the pods are there.
	n.waitStatus("web", "50% read back from the pods", func(st v1alpha1.RolloutStatus) bool {
		return st.ObservedWeights != nil && st.ObservedWeights.CanaryPPM == *weight(50)
	})
	cp := n.deployment("web-canary")
	if cp == nil {
		t.Fatal("no canary copy")
	}
	if image(cp) != "registry.example/web:v2" || cp.Spec.Selector.MatchLabels["kanaria.dev/role"] != "canary" ||
		len(cp.OwnerReferences) != 1 || cp.OwnerReferences[0].Kind != "Rollout" {
		t.Errorf("canary copy: image %s selector %v owners %v", image(cp), cp.Spec.Selector.MatchLabels, cp.OwnerReferences)
	}
	// 50 % beside 3 stable pods is 3 canary pods.
	if *cp.Spec.Replicas != 3 {
		t.Errorf("canary copy has %d replicas at 50%%, want 3", *cp.Spec.Replicas)
	}
	for _, svc := range []string{"web-stable", "web-canary"} {
		var s corev1.Service
		if err := n.c.Get(n.ctx(), n.key(svc), &s); err != nil {
			t.Errorf("Service %s: %v", svc, err)
		}
	}

	n.command("web", "promote", "1")
	st = n.waitStatus("web", "v2 stable", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision == "v2"
	})
	if st.LastCommand != "1" || st.PreviousRevision != "v1" || st.Step != "4/4" {
		t.Errorf("after promote: %+v", st)
	}
	// The target keeps v1 warm for undo until the scale-down delay (30s for
	// a canary) has passed; then it is rolled to v2 and the copy removed.
	if d := n.deployment("web"); image(d) != "registry.example/web:v1" {
		t.Errorf("target changed before the scale-down: %s", image(d))
	}
	n.eventuallyWithin(waitTimeout+30*time.Second, "target at v2 and the copy gone", func() (bool, string) {
		d, cp := n.deployment("web"), n.deployment("web-canary")
		return image(d) == "registry.example/web:v2" && cp == nil, fmt.Sprintf("target %s, copy %v", image(d), cp != nil)
	})
	st = n.waitStatus("web", "ready at v2", func(st v1alpha1.RolloutStatus) bool {
		return condition(st, v1alpha1.ConditionReady).Status == v1alpha1.ConditionTrue && st.ScaleDownAt.IsZero()
	})
	if d := n.deployment("web"); d.Annotations["kanaria.dev/revision"] != "v2" || env(d, "REVISION") != "v2" {
		t.Errorf("target after promotion: annotations %v env %q", d.Annotations, env(d, "REVISION"))
	}
	want := []string{"Initialized", "Started", "Ready", "StepReached", "StepReached", "StepReached", "StepReached", "Paused", "Promoted", "Finished", "ScaledDown"}
	if got := reasons(n.events("web")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
}

func env(d *appsv1.Deployment, name string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if c.Name == "web" && e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

func reasons(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason)
	}
	return out
}

// healthy waits for the first status: v1 stable and ready.
func (n *ns) healthy(name string) v1alpha1.RolloutStatus {
	n.t.Helper()
	return n.waitStatus(name, "Healthy with the stable revision ready", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && condition(st, v1alpha1.ConditionReady).Status == v1alpha1.ConditionTrue
	})
}

// copyReplicas waits until Deployment name exists with replicas pods.
func (n *ns) copyReplicas(name string, replicas int32) *appsv1.Deployment {
	n.t.Helper()
	var d *appsv1.Deployment
	n.eventually(fmt.Sprintf("%s with %d replicas", name, replicas), func() (bool, string) {
		d = n.deployment(name)
		if d == nil {
			return false, "none"
		}
		return *d.Spec.Replicas == replicas && d.Status.ReadyReplicas == replicas, fmt.Sprintf("%d replicas, %d ready", *d.Spec.Replicas, d.Status.ReadyReplicas)
	})
	return d
}

// deploymentLog records, in the order the API server sent them, the
// changes of one Deployment's replica count and its deletion.
type deploymentLog struct {
	mu      sync.Mutex
	entries []string
	w       watch.Interface
	done    chan struct{}
}

func (n *ns) watchDeployment(name string) *deploymentLog {
	n.t.Helper()
	w, err := n.c.Watch(n.ctx(), &appsv1.DeploymentList{}, client.InNamespace(n.name))
	if err != nil {
		n.t.Fatal(err)
	}
	l := &deploymentLog{w: w, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		last := ""
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || d.Name != name {
				continue
			}
			e := fmt.Sprintf("replicas=%d", ptrValue(d.Spec.Replicas))
			if ev.Type == watch.Deleted || d.DeletionTimestamp != nil {
				e = "deleted"
			}
			if e != last {
				l.mu.Lock()
				l.entries = append(l.entries, e)
				l.mu.Unlock()
				last = e
			}
		}
	}()
	n.t.Cleanup(l.stop)
	return l
}

func (l *deploymentLog) stop() {
	l.w.Stop()
	<-l.done
}

func (l *deploymentLog) log() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

// testAbort: the abort annotation takes the canary's weight to 0 first (the
// replicas provider scales the copy to no pods) and deletes the copy only
// then; the target is not touched. The retry annotation starts the same
// revision again.
func testAbort(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 3, "v1")
	n.createRollout("web", canarySpec("web"))
	n.startController("a")
	n.healthy("web")

	n.setRevision("web", "v2")
	n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	n.copyReplicas("web-canary", 3)
	target := n.deployment("web")
	log := n.watchDeployment("web-canary")
	n.command("web", "abort", "a1")
	st := n.waitStatus("web", "aborted, the copy gone", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseAborted && n.deployment("web-canary") == nil
	})
	n.eventually("the watch to see the deletion", func() (bool, string) {
		l := log.log()
		return len(l) > 0 && l[len(l)-1] == "deleted", strings.Join(l, ", ")
	})
	log.stop()
	if got, want := strings.Join(log.log(), ", "), "replicas=3, replicas=0, deleted"; got != want {
		t.Errorf("the canary copy went through %s; want %s (no users first, then deleted)", got, want)
	}
	if st.CanaryRevision != "" || st.Weights.CanaryPPM != 0 || st.LastCommand != "a1" || st.StableRevision != "v1" {
		t.Errorf("after abort: %+v", st)
	}
	if c := condition(st, v1alpha1.ConditionProgressing); c.Status != v1alpha1.ConditionFalse || c.Reason != "ReleaseAborted" {
		t.Errorf("Progressing after abort: %+v", c)
	}
	if d := n.deployment("web"); !equality.Semantic.DeepEqual(d.Spec.Template, target.Spec.Template) {
		t.Errorf("abort changed the target's pod template: %+v", d.Spec.Template)
	}
	ev := n.waitEvent("web", "Aborted", "release of v2 aborted at step 4/4")
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("Aborted event type %s", ev.Type)
	}
	// The same revision is not started again by the next passes…
	n.command("web", "promote", "p1")
	n.waitEvent("web", "CommandRefused", "no release in progress")
	if st := n.rollout("web").Status; st.Phase != v1alpha1.PhaseAborted || st.LastCommand != "p1" {
		t.Errorf("a refused promote changed the status: %+v", st)
	}
	// …but retry does.
	n.command("web", "retry", "r1")
	n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	n.copyReplicas("web-canary", 3)
}

// testUndo: after a promotion, undo while the previous revision is still
// warm makes it stable again at once, without touching the target (which
// still runs it); the undone revision's copy is scaled down after the
// delay.
func testUndo(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	n.createRollout("web", canarySpec("web", v1alpha1.Step{SetWeight: weight(50)}))
	n.startController("a")
	n.healthy("web")
	n.setRevision("web", "v2")
	n.waitStatus("web", "v2 promoted", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision == "v2" && st.PreviousRevision == "v1"
	})
	// The pod template is what restarts pods when it changes (the
	// generation also moves with annotations, which kanaria writes).
	tpl := n.deployment("web").Spec.Template

	n.command("web", "undo", "u1")
	st := n.waitStatus("web", "v1 stable again", func(st v1alpha1.RolloutStatus) bool {
		return st.StableRevision == "v1" && st.PreviousRevision == "v2"
	})
	if st.Phase != v1alpha1.PhaseHealthy || st.ObservedRevision != "v2" {
		t.Errorf("after undo: %+v", st)
	}
	n.waitEvent("web", "Undone", "v1 is the stable revision again")
	if d := n.deployment("web"); !equality.Semantic.DeepEqual(d.Spec.Template, tpl) {
		t.Errorf("undo changed the target's pod template: its pods would restart\nbefore %+v\nafter  %+v", tpl, d.Spec.Template)
	}
	// spec.revision still says v2: the controller does not start it again.
	n.eventuallyWithin(waitTimeout+30*time.Second, "the undone v2 scaled down", func() (bool, string) {
		return n.deployment("web-canary") == nil, "the copy is still there"
	})
	if d := n.deployment("web"); !equality.Semantic.DeepEqual(d.Spec.Template, tpl) {
		t.Errorf("the scale-down of v2 changed the target's pod template")
	}
	if st := n.rollout("web").Status; st.CanaryRevision != "" || st.StableRevision != "v1" || st.Phase != v1alpha1.PhaseHealthy {
		t.Errorf("after the scale-down: %+v", st)
	}
}

// testBlueGreen: through the gatewayAPI provider (HTTPRoute backendRef
// weights in ppm, read back from the stored route): green runs beside blue
// at weight 0 until promote, then takes all traffic in one write; after the
// scale-down delay the target itself runs green, the route points at its
// Service again, and the copy is gone.
func testBlueGreen(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	n.createRoute("web", "web-stable")
	sp := v1alpha1.RolloutSpec{
		Revision: "v1",
		Platform: kubernetesPlatform("web"),
		Traffic:  &v1alpha1.Traffic{GatewayAPI: &v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}}},
		Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ScaleDownDelay: duration(2 * time.Second)}},
	}
	n.createRollout("web", sp)
	n.startController("a")
	n.healthy("web")
	backends := func() string { return n.routeBackends("web") }
	n.eventually("the route on blue", func() (bool, string) { b := backends(); return b == "web-stable=1000000", b })

	n.setRevision("web", "v2")
	st := n.waitStatus("web", "green waiting for promotion", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.PausedBy == "promotion"
	})
	if c := condition(st, v1alpha1.ConditionPaused); c.Reason != "WaitingForPromotion" {
		t.Errorf("Paused condition %+v", c)
	}
	n.eventually("green beside blue at 0", func() (bool, string) {
		b := backends()
		return b == "web-stable=1000000 web-canary=0", b
	})
	n.command("web", "promote", "go")
	n.eventually("all traffic on green, still in its copy", func() (bool, string) {
		b := backends()
		return b == "web-canary=1000000" || b == "web-stable=1000000" && n.deployment("web-canary") == nil, b
	})
	n.eventually("the target runs green, the route on its Service, the copy gone", func() (bool, string) {
		b, d := backends(), n.deployment("web")
		return b == "web-stable=1000000" && image(d) == "registry.example/web:v2" && n.deployment("web-canary") == nil,
			fmt.Sprintf("route %s, target %s, copy %v", b, image(d), n.deployment("web-canary") != nil)
	})
	st = n.waitStatus("web", "v2 stable, read back", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision == "v2" && st.ScaleDownAt.IsZero() &&
			!strings.Contains(condition(st, v1alpha1.ConditionProgressing).Message, "waiting")
	})
	if st.ObservedWeights == nil || *st.ObservedWeights != (v1alpha1.Weights{}) {
		t.Errorf("observed weights %v", st.ObservedWeights)
	}
}

// testGatewayAPICanary: a whole canary release through the gatewayAPI
// provider. Each step's weights are written to the HTTPRoute's backendRefs
// in ppm (0.1 % is exactly 1000 of 1000000) and read back from the stored
// route before the release counts the step; promotion moves the route back
// to the target's Service, which then runs v2, and removes the copy.
func testGatewayAPICanary(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	n.createRoute("web", "web-stable")
	sp := canarySpec("web",
		v1alpha1.Step{SetWeight: weight(0.1)},
		v1alpha1.Step{Pause: &v1alpha1.Pause{}},
		v1alpha1.Step{SetWeight: weight(10)},
		v1alpha1.Step{Pause: &v1alpha1.Pause{}},
	)
	sp.Traffic = &v1alpha1.Traffic{GatewayAPI: &v1alpha1.GatewayAPITraffic{HTTPRoutes: []string{"web"}}}
	n.createRollout("web", sp)
	n.startController("a")
	n.healthy("web")
	n.eventually("the route on stable", func() (bool, string) { b := n.routeBackends("web"); return b == "web-stable=1000000", b })

	n.setRevision("web", "v2")
	for _, step := range []struct {
		index    int
		backends string
		canary   v1alpha1.Weight
	}{
		{1, "web-stable=999000 web-canary=1000", 1000},
		{3, "web-stable=900000 web-canary=100000", 100000},
	} {
		st := n.waitStatus("web", fmt.Sprintf("paused at step %d", step.index), func(st v1alpha1.RolloutStatus) bool {
			return st.Phase == v1alpha1.PhasePaused && st.StepIndex == step.index
		})
		if b := n.routeBackends("web"); b != step.backends {
			t.Errorf("step %d: route %s, want %s", step.index, b, step.backends)
		}
		if st.ObservedWeights == nil || st.ObservedWeights.CanaryPPM != step.canary || st.Weights.CanaryPPM != step.canary {
			t.Errorf("step %d: weights %v, read back %v; want canary %v in both", step.index, st.Weights, st.ObservedWeights, step.canary)
		}
		n.command("web", "promote", fmt.Sprintf("step-%d", step.index))
	}
	n.eventually("the target runs v2, the route on its Service, the copy gone", func() (bool, string) {
		b, d := n.routeBackends("web"), n.deployment("web")
		return b == "web-stable=1000000" && image(d) == "registry.example/web:v2" && n.deployment("web-canary") == nil,
			fmt.Sprintf("route %s, target %s, copy %v", b, image(d), n.deployment("web-canary") != nil)
	})
	n.waitStatus("web", "v2 stable", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision == "v2"
	})
}

// createRoute creates HTTPRoute name with one rule sending everything to
// Service backend, as a user's route before kanaria manages it.
func (n *ns) createRoute(name, backend string) {
	n.t.Helper()
	port := gatewayv1.PortNumber(8080)
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: n.name, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gateway"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backend), Port: &port},
			}}}}},
		},
	}
	if err := n.c.Create(n.ctx(), route); err != nil {
		n.t.Fatal(err)
	}
}

// routeBackends renders the first rule of HTTPRoute name as
// "service=weight ..." (a backendRef without a weight counts 1, as in the
// Gateway API).
func (n *ns) routeBackends(name string) string {
	n.t.Helper()
	var r gatewayv1.HTTPRoute
	if err := n.c.Get(n.ctx(), n.key(name), &r); err != nil {
		n.t.Fatal(err)
	}
	var parts []string
	for _, b := range r.Spec.Rules[0].BackendRefs {
		w := int32(1)
		if b.Weight != nil {
			w = *b.Weight
		}
		parts = append(parts, fmt.Sprintf("%s=%d", b.Name, w))
	}
	return strings.Join(parts, " ")
}

// testInvalid: a Rollout whose target is missing, whose weights are out of
// range, or whose container is not in the target gets Invalid=True with a
// message naming the field, and nothing is created for it; once the target
// appears, it is released as any other.
func testInvalid(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 1, "v1")
	missing := canarySpec("nothere")
	n.createRollout("missing", missing)
	tooMuch := canarySpec("web", v1alpha1.Step{SetWeight: weight(120)})
	n.createRollout("toomuch", tooMuch)
	noContainer := canarySpec("web")
	noContainer.Platform.Kubernetes.Containers[0].Name = "api"
	n.createRollout("nocontainer", noContainer)
	before := n.deployment("web")
	n.startController("a")

	for name, want := range map[string]string{
		"missing":     "spec.platform.kubernetes.workloadRef.name: Deployment " + n.name + "/nothere not found",
		"toomuch":     "spec.strategy.canary.steps[0].setWeight: 120 is above 100%",
		"nocontainer": `spec.platform.kubernetes.containers[0].name: Deployment ` + n.name + `/web has no container "api"`,
	} {
		st := n.waitStatus(name, "Invalid", func(st v1alpha1.RolloutStatus) bool {
			return condition(st, v1alpha1.ConditionInvalid).Status == v1alpha1.ConditionTrue
		})
		c := condition(st, v1alpha1.ConditionInvalid)
		if !strings.Contains(c.Message, want) {
			t.Errorf("%s: Invalid condition %q, want it to contain %q", name, c.Message, want)
		}
		if st.Phase != "" || st.Generation != 0 {
			t.Errorf("%s: an invalid Rollout got a release status: %+v", name, st)
		}
		n.waitEvent(name, c.Reason, want)
	}
	var ds appsv1.DeploymentList
	var ss corev1.ServiceList
	if err := n.c.List(n.ctx(), &ds, client.InNamespace(n.name)); err != nil {
		t.Fatal(err)
	}
	if err := n.c.List(n.ctx(), &ss, client.InNamespace(n.name)); err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 1 || len(ss.Items) != 0 {
		t.Errorf("invalid Rollouts created objects: %d Deployments, %d Services", len(ds.Items), len(ss.Items))
	}
	// Not the resourceVersion: the test's kubelet stand-in writes the
	// target's status at any time. A change of its spec bumps the
	// generation; its labels and annotations are compared as they are.
	if d := n.deployment("web"); d.Generation != before.Generation ||
		!reflect.DeepEqual(d.Labels, before.Labels) || !reflect.DeepEqual(d.Annotations, before.Annotations) {
		t.Errorf("an invalid Rollout changed the target: generation %d (was %d), labels %v, annotations %v",
			d.Generation, before.Generation, d.Labels, d.Annotations)
	}

	// The missing target appears: the watch on Deployments finds the
	// Rollout naming it, and it is released.
	n.target("nothere", 1, "v0")
	st := n.healthy("missing")
	if c := condition(st, v1alpha1.ConditionInvalid); c.Status != v1alpha1.ConditionFalse {
		t.Errorf("Invalid after the target appeared: %+v", c)
	}
	if d := n.deployment("nothere"); image(d) != "registry.example/web:v1" {
		t.Errorf("the target that appeared was not adopted: %s", image(d))
	}
}
