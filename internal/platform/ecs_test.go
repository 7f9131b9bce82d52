package platform

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/fakeaws"
)

func newECS(t *testing.T, spec v1alpha1.ECSPlatform, opts ECSOptions) *ECS {
	t.Helper()
	p, err := NewECS(context.Background(), "web", spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// waitReady polls State until the revision's task set is ready.
func waitReady(t *testing.T, p *ECS, rev string) State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := p.State(Instance{Rollout: "web", Revision: rev})
		if ok && st.Ready {
			return st
		}
		if err := p.refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %+v (known %v)", rev, st, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func taskSetOf(t *testing.T, w *fakeaws.World, rev string) fakeaws.TaskSet {
	t.Helper()
	for _, ts := range w.TaskSets(w.ServiceARN) {
		if ts.ExternalID == "kanaria/web/"+rev {
			return ts
		}
	}
	t.Fatalf("no task set of %s in %+v", rev, w.TaskSets(w.ServiceARN))
	return fakeaws.TaskSet{}
}

func TestECSTaskSetLifecycle(t *testing.T) {
	w := fakeaws.NewWorld(t)
	w.SetStablePolls(3)
	ctx := context.Background()
	spec := w.Platform()
	spec.PollInterval = v1alpha1.Duration(time.Hour) // only the test's describes count
	p := newECS(t, spec, ECSOptions{})
	if err := p.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	v1 := Instance{Rollout: "web", Revision: "v1"}
	if err := p.Ensure(ctx, v1); err != nil {
		t.Fatal(err)
	}
	ts := taskSetOf(t, w, "v1")
	if ts.Status != "PRIMARY" || ts.Scale != 100 || len(ts.TargetGroups) != 1 || ts.TargetGroups[0] != w.TargetGroups[0] {
		t.Fatalf("first task set: %+v; want PRIMARY at 100%% in %s", ts, w.TargetGroups[0])
	}
	td := w.TaskDefinition(ts.TaskDefinition)
	c := td["containerDefinitions"].([]any)[0].(map[string]any)
	if c["image"] != "ghcr.io/acme/web:v1" || !strings.Contains(fmtAny(c["environment"]), "REVISION v1") {
		t.Fatalf("registered container: %v", c)
	}
	if st, ok := p.State(v1); ok && st.Ready {
		t.Fatalf("v1 ready before ECS said STEADY_STATE: %+v", st)
	}
	if st := waitReady(t, p, "v1"); st.Endpoints[0] != w.TargetGroups[0] {
		t.Fatalf("v1 endpoints %v", st.Endpoints)
	}
	if err := p.Ensure(ctx, v1); err != nil || w.CountCalls("CreateTaskSet") != 1 {
		t.Fatalf("second Ensure: %v, %d CreateTaskSet calls", err, w.CountCalls("CreateTaskSet"))
	}

	v2 := Instance{Rollout: "web", Revision: "v2"}
	if err := p.Ensure(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if ts := taskSetOf(t, w, "v2"); ts.Status != "ACTIVE" || ts.Scale != 50 || ts.TargetGroups[0] != w.TargetGroups[1] {
		t.Fatalf("canary task set: %+v; want ACTIVE at canaryScale 50%% in %s", ts, w.TargetGroups[1])
	}
	err := p.Ensure(ctx, Instance{Rollout: "web", Revision: "v3"})
	if err == nil || !strings.Contains(err.Error(), "both target groups are in use") {
		t.Fatalf("third task set: %v", err)
	}
	waitReady(t, p, "v2")

	if err := p.Promote(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if ts := taskSetOf(t, w, "v2"); ts.Status != "PRIMARY" || ts.Scale != 100 {
		t.Fatalf("promoted: %+v", ts)
	}
	if ts := taskSetOf(t, w, "v1"); ts.Status != "ACTIVE" {
		t.Fatalf("old primary: %+v", ts)
	}
	if st, _ := p.State(v2); st.Ready {
		t.Fatalf("v2 ready while scaling to 100%%: %+v", st)
	}
	waitReady(t, p, "v2")
	if err := p.Promote(ctx, "v2"); err != nil || w.CountCalls("UpdateTaskSet") != 1 || w.CountCalls("UpdateServicePrimaryTaskSet") != 2 {
		t.Fatalf("second Promote: %v; %d UpdateTaskSet, %d UpdateServicePrimaryTaskSet", err, w.CountCalls("UpdateTaskSet"), w.CountCalls("UpdateServicePrimaryTaskSet"))
	}

	for i := 0; i < 2; i++ {
		if err := p.Stop(ctx, v1); err != nil {
			t.Fatalf("Stop %d: %v", i, err)
		}
	}
	running, err := p.Running(ctx)
	if err != nil || len(running) != 1 || running[0].Revision != "v2" {
		t.Fatalf("Running: %v, %v", running, err)
	}
	if _, ok := p.State(v1); ok {
		t.Fatal("a deleted task set is still known")
	}
}

func fmtAny(v any) string {
	var b strings.Builder
	for _, e := range v.([]any) {
		m := e.(map[string]any)
		b.WriteString(m["name"].(string) + " " + m["value"].(string) + ";")
	}
	return b.String()
}

// TestECSValidateRefusals: each problem is named by its field, and
// nothing is created, registered or changed.
func TestECSValidateRefusals(t *testing.T) {
	w := fakeaws.NewWorld(t)
	w.AddService("prod", "rolling", "ECS", 2)
	for _, tc := range []struct {
		name   string
		change func(*v1alpha1.ECSPlatform)
		field  string
		says   string
	}{
		{"ecs controller", func(p *v1alpha1.ECSPlatform) { p.Service = "rolling" }, "spec.platform.ecs.service", "has the ECS deployment controller"},
		{"no service", func(p *v1alpha1.ECSPlatform) { p.Service = "nope" }, "spec.platform.ecs.service", "MISSING"},
		{"no task definition", func(p *v1alpha1.ECSPlatform) { p.TaskDefinition.From = "nope" }, "spec.platform.ecs.taskDefinition.from", "Unable to describe"},
		{"no container", func(p *v1alpha1.ECSPlatform) { p.TaskDefinition.Containers[0].Name = "sidecar" }, "spec.platform.ecs.taskDefinition.containers[0].name", `"sidecar" is not a container`},
		{"no traffic container", func(p *v1alpha1.ECSPlatform) { p.ContainerName = "proxy" }, "spec.platform.ecs.containerName", `"proxy" is not a container`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := w.Platform()
			spec.TaskDefinition.Containers = append([]v1alpha1.ContainerTemplate(nil), spec.TaskDefinition.Containers...)
			tc.change(&spec)
			err := newECS(t, spec, ECSOptions{}).Validate(context.Background())
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.field || !strings.Contains(inv.Reason, tc.says) {
				t.Fatalf("got %v; want %s: ...%s...", err, tc.field, tc.says)
			}
		})
	}
	for _, op := range []string{"CreateTaskSet", "UpdateTaskSet", "DeleteTaskSet", "UpdateServicePrimaryTaskSet", "RegisterTaskDefinition"} {
		if n := w.CountCalls(op); n != 0 {
			t.Errorf("validation called %s %d times", op, n)
		}
	}
}

// TestECSThrottlingAndErrors: throttling is retried by the SDK's retryer;
// what still fails names the operation and the resource.
func TestECSThrottlingAndErrors(t *testing.T) {
	w := fakeaws.NewWorld(t)
	ctx := context.Background()
	p := newECS(t, w.Platform(), ECSOptions{})
	w.Throttle("CreateTaskSet", 3)
	if err := p.Ensure(ctx, Instance{Rollout: "web", Revision: "v1"}); err != nil {
		t.Fatalf("Ensure through 3 throttled calls: %v", err)
	}
	if n := w.CountCalls("CreateTaskSet"); n != 4 {
		t.Fatalf("%d CreateTaskSet calls; want 3 throttled + 1", n)
	}
	err := p.Stop(ctx, Instance{Rollout: "web", Revision: "v1"})
	for _, want := range []string{"ecs service web in cluster prod, task set of v1", "DeleteTaskSet", "InvalidParameterException", "primary task set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("deleting the PRIMARY task set: %v; want it to say %q", err, want)
		}
	}

	p.Close(ctx)

	spec := w.Platform()
	spec.AWS.MaxAttempts = 2
	spec.PollInterval = v1alpha1.Duration(time.Hour)
	q := newECS(t, spec, ECSOptions{})
	w.Throttle("DescribeServices", 1000)
	err = q.Ensure(ctx, Instance{Rollout: "web", Revision: "v2"})
	w.Throttle("DescribeServices", 0)
	for _, want := range []string{"ecs service web in cluster prod: operation error ECS: DescribeServices", "exceeded maximum number of attempts, 2", "ThrottlingException: Rate exceeded"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("throttled past maxAttempts: %v; want it to say %q", err, want)
		}
	}
}
