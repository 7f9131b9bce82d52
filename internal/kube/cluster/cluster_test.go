package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/kube/cluster/clustertest"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

var _ server.Backend = (*Backend)(nil)

// env is an API server with the Rollout CRD and a namespace for the test.
type env struct {
	t  *testing.T
	c  client.Client
	ns string
	b  *Backend
}

func start(t *testing.T) *env {
	t.Helper()
	k := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}, Scheme: Scheme()})
	ns := "shop"
	if err := k.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	b, err := New(k.Client, Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: k.Client, ns: ns, b: b}
}

func (e *env) create(ro *kanariav1alpha1.Rollout) *kanariav1alpha1.Rollout {
	e.t.Helper()
	if err := e.c.Create(context.Background(), ro); err != nil {
		e.t.Fatalf("create Rollout: %v", err)
	}
	return ro
}

func (e *env) read(name string) *kanariav1alpha1.Rollout {
	e.t.Helper()
	var ro kanariav1alpha1.Rollout
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: name}, &ro); err != nil {
		e.t.Fatal(err)
	}
	return &ro
}

// controller is one reconcile of the stand-in for kanaria controller.
func (e *env) controller(name string) *kanariav1alpha1.Rollout {
	e.t.Helper()
	return clustertest.Controller(e.t, e.c, e.ns, name)
}

func (e *env) request(name string, cmd engine.Command) (Request, error) {
	e.t.Helper()
	return e.b.Request(context.Background(), name, cmd)
}

func mustRequest(t *testing.T, e *env, name string, cmd engine.Command) Request {
	t.Helper()
	req, err := e.request(name, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Kind, err)
	}
	return req
}

func isConflict(err error) bool { return errors.As(err, new(*wire.ConflictError)) }

// Every command is the patch of K8S-DESIGN.md and nothing else: start
// writes spec.revision, pause and resume spec.paused, the others the command
// annotation with a new id each time; the status, which only the controller
// writes, is read back as it wrote it.
func TestCommandsWriteThePatches(t *testing.T) {
	e := start(t)
	e.create(clustertest.Rollout(e.ns, "web"))
	before := e.controller("web")

	req := mustRequest(t, e, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	ro := e.read("web")
	if ro.Spec.Revision != "v2" || req.Patch != "spec.revision=v2" {
		t.Fatalf("start v2: spec.revision %q, patch %q", ro.Spec.Revision, req.Patch)
	}
	if len(ro.Annotations) != 0 || ro.Spec.Paused {
		t.Fatalf("start wrote more than spec.revision: annotations %v, paused %v", ro.Annotations, ro.Spec.Paused)
	}
	if ro.Status.Phase != v1alpha1.PhaseHealthy || req.View.Status.Phase != v1alpha1.PhaseHealthy {
		t.Fatalf("status changed by the CLI: %q / view %q", ro.Status.Phase, req.View.Status.Phase)
	}
	if ro.Generation == before.Generation {
		t.Fatal("spec change did not bump the generation")
	}

	// The controller has not acted yet: asking again writes nothing.
	rv := ro.ResourceVersion
	req = mustRequest(t, e, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	if req.Patch != "" || !strings.Contains(req.View.Note, "spec.revision=v2 is already written") {
		t.Fatalf("repeated start: patch %q, note %q", req.Patch, req.View.Note)
	}
	if e.read("web").ResourceVersion != rv {
		t.Fatal("repeated start wrote the Rollout")
	}

	ro = e.controller("web") // v2 released to its first step, then the pause
	if ro.Status.CanaryRevision != "v2" || ro.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("stand-in controller: %+v", ro.Status)
	}
	v, err := e.b.Get(context.Background(), "web")
	if err != nil || v.Status.CanaryRevision != "v2" || v.Status.StepIndex != ro.Status.StepIndex || v.Strategy != "canary" || len(v.Steps) != 4 {
		t.Fatalf("Get after the controller: %+v, %v", v, err)
	}

	// promote: the annotation, with an id the controller has not seen.
	req = mustRequest(t, e, "web", engine.Command{Kind: engine.CmdPromote})
	ro = e.read("web")
	got := ro.Annotations[kanariav1alpha1.CommandAnnotation]
	verb, id, err := kanariav1alpha1.ParseCommand(got)
	if err != nil || verb != kanariav1alpha1.VerbPromote || id == ro.Status.LastCommand {
		t.Fatalf("promote annotation %q (%v), last command %q", got, err, ro.Status.LastCommand)
	}
	if req.Patch != kanariav1alpha1.CommandAnnotation+"="+got || ro.Spec.Revision != "v2" || ro.Spec.Paused {
		t.Fatalf("promote: patch %q, spec %+v", req.Patch, ro.Spec)
	}
	// A second command before the controller applied the first would
	// overwrite it: refused, nothing written.
	_, err = e.request("web", engine.Command{Kind: engine.CmdAbort})
	if !isConflict(err) || !strings.Contains(err.Error(), "is not applied yet") {
		t.Fatalf("abort over a pending promote: %v", err)
	}
	if e.read("web").Annotations[kanariav1alpha1.CommandAnnotation] != got {
		t.Fatal("pending command overwritten")
	}

	// Wait returns once the controller records the command's id.
	ack := make(chan error, 1)
	go func() {
		_, err := e.b.Wait(context.Background(), "web", req, 20*time.Millisecond, time.Minute)
		ack <- err
	}()
	ro = e.controller("web")
	if err := <-ack; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if ro.Status.LastCommand != id || ro.Status.StepIndex != 3 || ro.Status.Phase != v1alpha1.PhaseProgressing { // in the timed pause
		t.Fatalf("after promote: last command %q step %d", ro.Status.LastCommand, ro.Status.StepIndex)
	}

	// pause and resume: spec.paused.
	req = mustRequest(t, e, "web", engine.Command{Kind: engine.CmdPause})
	if ro = e.read("web"); !ro.Spec.Paused || req.Patch != "spec.paused=true" {
		t.Fatalf("pause: spec.paused %v, patch %q", ro.Spec.Paused, req.Patch)
	}
	if ro = e.controller("web"); ro.Status.Phase != v1alpha1.PhasePaused || ro.Status.PausedBy != engine.PausedByUser {
		t.Fatalf("after pause: %s by %q", ro.Status.Phase, ro.Status.PausedBy)
	}
	req = mustRequest(t, e, "web", engine.Command{Kind: engine.CmdResume})
	if ro = e.read("web"); ro.Spec.Paused || req.Patch != "spec.paused=false" {
		t.Fatalf("resume: spec.paused %v, patch %q", ro.Spec.Paused, req.Patch)
	}
	e.controller("web")

	// The other verbs, each applied by the stand-in before the next.
	for _, c := range []struct {
		cmd  engine.Command
		verb string
	}{
		{engine.Command{Kind: engine.CmdPromote, Full: true}, kanariav1alpha1.VerbPromoteFull},
		{engine.Command{Kind: engine.CmdUndo}, kanariav1alpha1.VerbUndo},
		{engine.Command{Kind: engine.CmdStart, Revision: "v3"}, ""},
		{engine.Command{Kind: engine.CmdAbort}, kanariav1alpha1.VerbAbort},
		{engine.Command{Kind: engine.CmdStop}, kanariav1alpha1.VerbStop},
	} {
		req := mustRequest(t, e, "web", c.cmd)
		ro := e.read("web")
		if c.verb != "" {
			verb, _, err := kanariav1alpha1.ParseCommand(ro.Annotations[kanariav1alpha1.CommandAnnotation])
			if err != nil || verb != c.verb || !strings.HasPrefix(req.Patch, kanariav1alpha1.CommandAnnotation+"="+c.verb+"/") {
				t.Fatalf("%+v: annotation %q, patch %q", c.cmd, ro.Annotations[kanariav1alpha1.CommandAnnotation], req.Patch)
			}
		}
		ro = e.controller("web")
		t.Logf("%s%s: %s", c.cmd.Kind, map[bool]string{true: " --full"}[c.cmd.Full], ro.Status.Message)
	}
	if ro := e.read("web"); ro.Status.Phase != v1alpha1.PhaseHealthy || ro.Status.StableRevision != "v1" {
		t.Fatalf("after stop: %s, stable %s", ro.Status.Phase, ro.Status.StableRevision)
	}
}

// With the controller caught up, a command's outcome comes from the engine
// before anything is written: one in effect is a note, one that does not
// apply now a conflict, as on one machine; and a start of the revision that
// spec.revision already holds, which the controller would not see as a
// change, is the retry command.
func TestCommandsJudgedByTheEngine(t *testing.T) {
	e := start(t)
	e.create(clustertest.Rollout(e.ns, "web"))
	e.controller("web")
	rv := e.read("web").ResourceVersion

	if _, err := e.request("web", engine.Command{Kind: engine.CmdPromote}); !isConflict(err) || !strings.Contains(err.Error(), "no release in progress") {
		t.Fatalf("promote with no release: %v", err)
	}
	req, err := e.request("web", engine.Command{Kind: engine.CmdStop})
	if err != nil || req.Patch != "" || !strings.Contains(req.View.Note, "no release in progress") {
		t.Fatalf("stop with no release: %+v, %v", req, err)
	}
	req, err = e.request("web", engine.Command{Kind: engine.CmdStart, Revision: "v1"})
	if err != nil || req.Patch != "" || !strings.Contains(req.View.Note, "already the stable revision") {
		t.Fatalf("start of the stable revision: %+v, %v", req, err)
	}
	if e.read("web").ResourceVersion != rv {
		t.Fatal("a command that did not apply wrote the Rollout")
	}

	mustRequest(t, e, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	e.controller("web") // paused at the pause step
	if _, err := e.request("web", engine.Command{Kind: engine.CmdResume}); !isConflict(err) || !strings.Contains(err.Error(), "not paused by a user") {
		t.Fatalf("resume of a pause step: %v", err)
	}
	req, err = e.request("web", engine.Command{Kind: engine.CmdPause})
	if err != nil || req.Patch != "" || !strings.Contains(req.View.Note, "already paused") {
		t.Fatalf("pause at a pause step: %+v, %v", req, err)
	}
	mustRequest(t, e, "web", engine.Command{Kind: engine.CmdAbort})
	e.controller("web")
	// Starting v2 again: spec.revision is v2 already, so it is the retry
	// command.
	req = mustRequest(t, e, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	ro := e.read("web")
	if verb, _, _ := kanariav1alpha1.ParseCommand(ro.Annotations[kanariav1alpha1.CommandAnnotation]); verb != kanariav1alpha1.VerbRetry || ro.Spec.Revision != "v2" || !strings.HasPrefix(req.Patch, kanariav1alpha1.CommandAnnotation+"=retry/") {
		t.Fatalf("start v2 again after its abort: patch %q, annotations %v", req.Patch, ro.Annotations)
	}
	if ro = e.controller("web"); ro.Status.CanaryRevision != "v2" || ro.Status.Phase == v1alpha1.PhaseAborted {
		t.Fatalf("after retry: %s, canary %q", ro.Status.Phase, ro.Status.CanaryRevision)
	}

	// Without a status there is nothing to judge a command against: the
	// controller has not seen the Rollout.
	e.create(clustertest.Rollout(e.ns, "new"))
	if _, err := e.request("new", engine.Command{Kind: engine.CmdStart, Revision: "v2"}); !isConflict(err) || !strings.Contains(err.Error(), "no status yet") {
		t.Fatalf("start before the controller: %v", err)
	}
	// An invalid Rollout: the controller wrote only the condition.
	bad := e.read("new")
	bad.Status.Conditions = []v1alpha1.Condition{{Type: v1alpha1.ConditionInvalid, Status: v1alpha1.ConditionTrue,
		LastTransitionTime: time.Now(), Reason: "InvalidTarget", Message: "Deployment shop/new not found"}}
	if err := e.c.Status().Update(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if _, err := e.request("new", engine.Command{Kind: engine.CmdStart, Revision: "v2"}); !isConflict(err) || !strings.Contains(err.Error(), "rollout new is invalid (InvalidTarget): Deployment shop/new not found") {
		t.Fatalf("start of an invalid Rollout: %v", err)
	}
	if _, err := e.request("nope", engine.Command{Kind: engine.CmdPause}); !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("unknown rollout: %v", err)
	}
}

// List and Get show what the controller wrote in the status, as the
// one-machine API shows its rollouts.
func TestListAndGet(t *testing.T) {
	e := start(t)
	for _, n := range []string{"web", "api"} {
		e.create(clustertest.Rollout(e.ns, n))
	}
	e.create(clustertest.Rollout("default", "elsewhere"))
	e.controller("web")
	views, err := e.b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Name != "api" || views[1].Name != "web" {
		t.Fatalf("List: %+v", views)
	}
	if views[1].Status.Phase != v1alpha1.PhaseHealthy || views[1].Status.StableRevision != "v1" || views[0].Status.Phase != "" {
		t.Fatalf("List statuses: %+v", views)
	}
	if _, err := e.b.Get(context.Background(), "elsewhere"); !errors.Is(err, wire.ErrNotFound) || !strings.Contains(err.Error(), "namespace shop") {
		t.Fatalf("Get of another namespace's Rollout: %v", err)
	}
}

// Events are the Rollout's Kubernetes Events, oldest first, paged by ID;
// Events of another object of the same name, or of an earlier Rollout of
// that name, are not its history.
func TestEvents(t *testing.T) {
	e := start(t)
	ro := e.create(clustertest.Rollout(e.ns, "web"))
	ctx := context.Background()
	record := func(name, reason, msg string, involved corev1.ObjectReference) {
		t.Helper()
		now := metav1.Now()
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: e.ns, Name: name},
			InvolvedObject: involved, Reason: reason, Message: msg, Type: corev1.EventTypeNormal,
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		if err := e.c.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	mine := corev1.ObjectReference{APIVersion: kanariav1alpha1.GroupVersion.String(), Kind: "Rollout", Namespace: e.ns, Name: "web", UID: ro.UID}
	record("e1", engine.EventStarted, "canary release of v2 started", mine)
	deployment := corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: e.ns, Name: "web"}
	record("e2", "ScalingReplicaSet", "the Deployment's own", deployment)
	earlier := mine
	earlier.UID = "0000-earlier"
	record("e3", engine.EventAborted, "an earlier Rollout web", earlier)
	record("e4", engine.EventStepReached, "step 1/3", mine)

	evs, err := e.b.Events(ctx, "web", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != engine.EventStarted || evs[1].Type != engine.EventStepReached || evs[0].ID >= evs[1].ID {
		t.Fatalf("Events: %+v", evs)
	}
	if evs[0].Rollout != "web" || evs[0].Message != "canary release of v2 started" || evs[0].Time.IsZero() {
		t.Fatalf("first event: %+v", evs[0])
	}
	page, err := e.b.Events(ctx, "web", evs[0].ID, 100)
	if err != nil || len(page) != 1 || page[0].ID != evs[1].ID {
		t.Fatalf("Events after %d: %+v, %v", evs[0].ID, page, err)
	}
	if page, _ := e.b.Events(ctx, "web", 0, 1); len(page) != 1 || page[0].ID != evs[0].ID {
		t.Fatalf("limit 1: %+v", page)
	}
}
