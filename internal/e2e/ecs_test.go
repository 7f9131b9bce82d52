package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/testenv/fakeaws"
)

// The ECS tests run `kanaria up` as a real process against the FAKE AWS
// endpoint (internal/testenv/fakeaws) in the test process: task sets,
// listener weights and CloudWatch data are the fake's, driven through the
// real SDK clients.

// ecsSpec is the world's rollout with the given strategy (and analysis).
func ecsSpec(w *fakeaws.World, strategy, analysis string) string {
	return fmt.Sprintf(`apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    ecs:
      aws: {endpoint: %q, region: us-east-1, maxAttempts: 10}
      cluster: prod
      service: web
      taskDefinition:
        from: web
        containers:
        - name: app
          image: "ghcr.io/acme/web:{{.Revision}}"
      targetGroups: [%q, %q]
      containerName: app
      containerPort: 8080
      canaryScale: 50
      pollInterval: 100ms
  traffic:
    elb:
      listeners: [%q]
      rules: [%q]
      testListeners: [%q]
  strategy:
%s
%s`, w.URL, w.TargetGroups[0], w.TargetGroups[1], w.Listener, w.Rule, w.TestListener, strategy, analysis)
}

const ecsCanarySteps = `    canary:
      steps:
      - setWeight: 10
      - pause: {}
      - setWeight: 50
      - pause: {duration: 500ms}`

// ecsView is the part of `kanaria status -o json` these tests read.
type ecsView struct {
	Status struct {
		Phase           string `json:"phase"`
		StableRevision  string `json:"stableRevision"`
		CanaryRevision  string `json:"canaryRevision"`
		StepIndex       int    `json:"stepIndex"`
		Message         string `json:"message"`
		ObservedWeights *struct {
			CanaryPPM uint32 `json:"canaryPPM"`
		} `json:"observedWeights"`
	} `json:"status"`
	Traffic string `json:"traffic"`
}

func (e *env) ecsStatus() ecsView {
	e.t.Helper()
	out := e.must("status", "-o", "json")
	var v ecsView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		var list []ecsView
		if err2 := json.Unmarshal([]byte(out), &list); err2 != nil || len(list) != 1 {
			e.t.Fatalf("status -o json: %v\n%s", err, out)
		}
		v = list[0]
	}
	return v
}

// waitECS polls until cond holds on the status and the fake (bounded).
func (e *env) waitECS(what string, cond func(v ecsView) bool) ecsView {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var v ecsView
	for time.Now().Before(deadline) {
		if v = e.ecsStatus(); cond(v) {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("timed out waiting for %s; last status %+v", what, v)
	return v
}

func observed(v ecsView) int64 {
	if v.Status.ObservedWeights == nil {
		return -1
	}
	return int64(v.Status.ObservedWeights.CanaryPPM)
}

// weightsAre: the listener and the rule forward canary:stable as given
// (canary on target group b).
func weightsAre(w *fakeaws.World, a, b int) bool {
	for _, arn := range []string{w.Listener, w.Rule} {
		got, _ := w.Weights(arn)
		if got[w.TargetGroups[0]] != a || got[w.TargetGroups[1]] != b {
			return false
		}
	}
	return true
}

func taskSet(w *fakeaws.World, rev string) (fakeaws.TaskSet, bool) {
	for _, ts := range w.TaskSets(w.ServiceARN) {
		if ts.ExternalID == "kanaria/web/"+rev {
			return ts, true
		}
	}
	return fakeaws.TaskSet{}, false
}

func newECSEnv(t *testing.T, strategy, analysis string) (*env, *fakeaws.World) {
	w := fakeaws.NewWorld(t)
	e := newEnv(t, ecsSpec(w, strategy, analysis))
	e.startUp()
	e.waitECS("v1 to serve everything through ELB", func(v ecsView) bool {
		ts, ok := taskSet(w, "v1")
		return v.Status.Phase == "Healthy" && ok && ts.Status == "PRIMARY" && observed(v) == 0
	})
	return e, w
}

// TestECSCanaryRelease: a whole release on ECS with throttling and stale
// reads on the way; the status never claims a weight ELB does not have.
func TestECSCanaryRelease(t *testing.T) {
	e, w := newECSEnv(t, ecsCanarySteps, "")
	w.Throttle("ModifyRule", 2)
	w.SetStaleReads(w.Listener, 3)
	e.must("start", "v2")
	v := e.waitECS("the canary at 10%", func(v ecsView) bool { return v.Status.Phase == "Paused" && observed(v) == 100_000 })
	if !weightsAre(w, 9, 1) {
		t.Fatalf("listener and rule do not forward 9:1 while the status says 10%%: %+v", v)
	}
	if got, _ := w.Weights(w.TestListener); got[w.TargetGroups[1]] != 1 || got[w.TargetGroups[0]] != 0 {
		t.Fatalf("the test listener does not send everything to the canary: %v", got)
	}
	ts, _ := taskSet(w, "v2")
	if ts.Status != "ACTIVE" || ts.Scale != 50 || ts.TargetGroups[0] != w.TargetGroups[1] || ts.StabilityStatus != "STEADY_STATE" {
		t.Fatalf("canary task set %+v", ts)
	}
	if !strings.Contains(v.Traffic, "canary 1 : stable 9 on 2 forward actions = 10%") || !strings.Contains(v.Traffic, "0.1%") {
		t.Fatalf("status traffic line %q", v.Traffic)
	}
	if out := e.must("status"); !strings.Contains(out, "traffic:") || !strings.Contains(out, "ELB weights") {
		t.Fatalf("kanaria status does not show the ELB weights:\n%s", out)
	}
	if w.CountCalls("ModifyRule") < 3 {
		t.Fatalf("the throttled ModifyRule was not retried: %v", w.Calls())
	}

	// Consistent reads from here, so the last modification is the switch.
	w.SetStaleReads(w.Listener, 0)
	e.must("promote")
	e.waitECS("v2 to be stable", func(v ecsView) bool {
		return v.Status.Phase == "Healthy" && v.Status.StableRevision == "v2" && observed(v) == 0
	})
	e.waitECS("ELB to forward everything to v2", func(ecsView) bool { return weightsAre(w, 0, 1) })
	ts, _ = taskSet(w, "v2")
	if ts.Status != "PRIMARY" || ts.Scale != 100 {
		t.Fatalf("promoted task set %+v", ts)
	}
	old, ok := taskSet(w, "v1")
	if !ok || old.Status != "ACTIVE" {
		t.Fatalf("v1 is not kept warm for undo: %+v %v", old, ok)
	}
	// Traffic moved to v2 only after its scale-up to 100 %% was steady:
	// the last UpdateTaskSet comes before the final modifications.
	calls := w.Calls()
	lastScale := lastIndex(calls, "UpdateTaskSet")
	if lastScale < 0 || lastIndex(calls, "ModifyListener") < lastScale {
		t.Fatalf("calls %v", calls)
	}
	describesBetween := 0
	for _, c := range calls[lastScale:lastIndex(calls, "ModifyListener")] {
		if c == "DescribeServices" {
			describesBetween++
		}
	}
	if describesBetween < 2 {
		t.Fatalf("traffic moved before ECS said STEADY_STATE (%d describes in between): %v", describesBetween, calls[lastScale:])
	}

	// While v1 is kept warm for undo both target groups are in use: a new
	// release cannot start, and says why.
	e.must("start", "v3")
	v = e.waitECS("v3 to be refused", func(v ecsView) bool { return v.Status.Phase == "Aborted" })
	if !strings.Contains(v.Status.Message, "both target groups are in use") || !weightsAre(w, 0, 1) {
		t.Fatalf("v3 while v1 is warm: %q", v.Status.Message)
	}
}

func lastIndex(xs []string, x string) int {
	for i := len(xs) - 1; i >= 0; i-- {
		if xs[i] == x {
			return i
		}
	}
	return -1
}

// TestECSAbort: weights back to the primary first, then DeleteTaskSet.
func TestECSAbort(t *testing.T) {
	e, w := newECSEnv(t, ecsCanarySteps, "")
	e.must("start", "v2")
	e.waitECS("the canary at 10%", func(v ecsView) bool { return v.Status.Phase == "Paused" && observed(v) == 100_000 })
	n := len(w.Calls())
	e.must("abort")
	e.waitECS("the canary task set to be deleted", func(v ecsView) bool {
		_, ok := taskSet(w, "v2")
		return v.Status.Phase == "Aborted" && !ok
	})
	if !weightsAre(w, 1, 0) {
		t.Fatal("weights not back on stable")
	}
	calls := w.Calls()[n:]
	del := slices.Index(calls, "DeleteTaskSet")
	if del < 0 || lastIndex(calls[:del], "ModifyListener") < 0 || lastIndex(calls[:del], "ModifyRule") < 0 || lastIndex(calls[:del], "DescribeRules") < lastIndex(calls[:del], "ModifyRule") {
		t.Fatalf("not weights first, read back, then DeleteTaskSet: %v", calls)
	}
	if ts, _ := taskSet(w, "v1"); ts.Status != "PRIMARY" {
		t.Fatalf("v1 %+v", ts)
	}
}

// TestECSBadCanaryCloudWatch: the judge fails a canary whose target group
// answers 5xx in CloudWatch, and the release aborts.
func TestECSBadCanaryCloudWatch(t *testing.T) {
	analysis := `  analysis:
    comparedWith: stable
    metrics:
    - name: errors
      kind: errorRate
      minSamples: 100
      interval: 500ms
      provider:
        cloudwatch: {}`
	steps := `    canary:
      steps:
      - setWeight: 20
      - analysis: {duration: 1m, metrics: [errors]}
      - setWeight: 100`
	e, w := newECSEnv(t, steps, analysis)
	e.must("start", "v2")
	e.waitECS("the analysis step", func(v ecsView) bool { return v.Status.StepIndex == 1 && observed(v) == 200_000 })
	now := time.Now()
	w.PutMetric(w.TargetGroups[1], w.LoadBalancer, "RequestCount", now, 500)
	w.PutMetric(w.TargetGroups[1], w.LoadBalancer, "HTTPCode_Target_5XX_Count", now, 100)
	w.PutMetric(w.TargetGroups[0], w.LoadBalancer, "RequestCount", now, 2000)
	w.PutMetric(w.TargetGroups[0], w.LoadBalancer, "HTTPCode_Target_5XX_Count", now, 2)
	v := e.waitECS("the analysis to abort the release", func(v ecsView) bool { return v.Status.Phase == "Aborted" })
	if !strings.Contains(v.Status.Message, "analysis failed") || !strings.Contains(v.Status.Message, "canary 20.00% of 500 vs stable 0.10% of 2000") {
		t.Fatalf("message %q", v.Status.Message)
	}
	e.waitECS("the canary task set to go", func(ecsView) bool { _, ok := taskSet(w, "v2"); return !ok && weightsAre(w, 1, 0) })
	if w.CountCalls("GetMetricData") == 0 {
		t.Fatal("CloudWatch was never asked")
	}
}

// TestECSBlueGreenSwitchAndUndo: green on the other target group at full
// scale, reachable on the test listener; the switch and the undo are one
// modification of each forward action.
func TestECSBlueGreenSwitchAndUndo(t *testing.T) {
	e, w := newECSEnv(t, `    blueGreen:
      scaleDownDelay: 10m`, "")
	e.must("start", "v2")
	e.waitECS("green to wait for promote", func(v ecsView) bool {
		got, _ := w.Weights(w.TestListener)
		return v.Status.Phase == "Paused" && got[w.TargetGroups[1]] == 1 && got[w.TargetGroups[0]] == 0
	})
	if ts, _ := taskSet(w, "v2"); ts.Scale != 100 || ts.TargetGroups[0] != w.TargetGroups[1] {
		t.Fatalf("green %+v", ts)
	}
	if !weightsAre(w, 1, 0) {
		t.Fatal("users see green before the switch")
	}
	// The test listener already forwards to green, which stays there after
	// the switch; after the undo it follows blue back.
	for _, step := range []struct {
		cmd, stable string
		a, b        int
		listeners   int
	}{{"promote", "v2", 0, 1, 1}, {"undo", "v1", 1, 0, 2}} {
		before := w.CountCalls("ModifyListener")
		beforeRules := w.CountCalls("ModifyRule")
		e.must(step.cmd)
		e.waitECS(step.cmd, func(v ecsView) bool {
			return v.Status.StableRevision == step.stable && v.Status.Phase == "Healthy" && observed(v) == 0 && weightsAre(w, step.a, step.b)
		})
		// One modification of each forward action that changes.
		if n, r := w.CountCalls("ModifyListener")-before, w.CountCalls("ModifyRule")-beforeRules; n != step.listeners || r != 1 {
			t.Fatalf("%s: %d ModifyListener and %d ModifyRule; want %d and 1", step.cmd, n, r, step.listeners)
		}
		if got, _ := w.Weights(w.TestListener); got[w.TargetGroups[0]] != step.a || got[w.TargetGroups[1]] != step.b {
			t.Fatalf("%s: test listener %v", step.cmd, got)
		}
		if ts, _ := taskSet(w, step.stable); ts.Status != "PRIMARY" {
			t.Fatalf("%s: %s is not PRIMARY: %+v", step.cmd, step.stable, ts)
		}
		if len(w.TaskSets(w.ServiceARN)) != 2 {
			t.Fatalf("%s: the other task set is not kept for scaleDownDelay: %+v", step.cmd, w.TaskSets(w.ServiceARN))
		}
	}
}

// upFails runs `kanaria up` on a spec that must be refused and returns its
// output.
func upFails(t *testing.T, specYAML string) string {
	t.Helper()
	e := newEnv(t, specYAML)
	bin := kanariaBin(t) // built before the command's deadline runs
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", "-f", e.specFile, "--listen", e.router, "--api", e.api,
		"--state-dir", filepath.Join(e.dir, "state"), "--tick", "50ms")
	cmd.Dir = e.dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("kanaria up accepted the spec:\n%s", out)
	}
	return string(out)
}

// TestECSValidationRefusals: kanaria up refuses, with the field and what is
// wrong, and changes nothing in AWS.
func TestECSValidationRefusals(t *testing.T) {
	w := fakeaws.NewWorld(t)
	w.AddService("prod", "rolling", "ECS", 2)
	single := w.AddListener(w.LoadBalancer, map[string]int{w.TargetGroups[0]: 1})
	other := w.AddLoadBalancer("other")
	elsewhere := w.AddListener(other, map[string]int{w.TargetGroups[0]: 1, w.TargetGroups[1]: 0})
	base := ecsSpec(w, ecsCanarySteps, "")
	for _, tc := range []struct {
		name, from, to, says string
	}{
		{"ecs deployment controller", "service: web", "service: rolling",
			"spec.platform.ecs.service: ecs service rolling in cluster prod has the ECS deployment controller; kanaria manages task sets, which ECS allows only with the EXTERNAL deployment controller"},
		{"one target group", "listeners: [" + quote(w.Listener), "listeners: [" + quote(single),
			"spec.traffic.elb.listeners[0]: the forward action of elb listener " + single + " carries " + w.TargetGroups[0] + "; it needs exactly the two target groups"},
		{"not attached", "listeners: [" + quote(w.Listener), "listeners: [" + quote(elsewhere),
			"spec.platform.ecs.targetGroups[0]: target group " + w.TargetGroups[0] + " is not attached to load balancer " + other},
		{"no such container", "- name: app", "- name: sidecar", `spec.platform.ecs.taskDefinition.containers[0].name: "sidecar" is not a container of task definition`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := strings.Replace(base, tc.from, tc.to, 1)
			if spec == base {
				t.Fatalf("%q not in the spec", tc.from)
			}
			if out := upFails(t, spec); !strings.Contains(out, tc.says) {
				t.Fatalf("kanaria up said:\n%s\nwant ...%s...", out, tc.says)
			}
		})
	}
	for _, op := range []string{"CreateTaskSet", "RegisterTaskDefinition", "UpdateServicePrimaryTaskSet", "UpdateTaskSet", "DeleteTaskSet", "ModifyListener", "ModifyRule"} {
		if n := w.CountCalls(op); n != 0 {
			t.Errorf("a refused spec called %s %d times", op, n)
		}
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// TestECSKill9Resume: kill -9 of kanaria up mid-release. Meanwhile ELB
// keeps the weights it has (users see no change); after a restart the
// release is where it was, no task set is created twice, and it finishes.
// A second kill right after an abort still ends with the canary deleted
// after the weights are back.
func TestECSKill9Resume(t *testing.T) {
	e, w := newECSEnv(t, ecsCanarySteps, "")
	e.must("start", "v2")
	e.waitECS("the canary at 10%", func(v ecsView) bool { return v.Status.Phase == "Paused" && observed(v) == 100_000 })
	created := w.CountCalls("CreateTaskSet")
	e.stopUp(syscall.SIGKILL)
	time.Sleep(300 * time.Millisecond)
	if !weightsAre(w, 9, 1) || len(w.TaskSets(w.ServiceARN)) != 2 {
		t.Fatalf("while kanaria up is down, ELB or ECS changed: %+v", w.TaskSets(w.ServiceARN))
	}
	e.startUp()
	v := e.waitECS("the release as it was", func(v ecsView) bool { return observed(v) == 100_000 })
	if v.Status.Phase != "Paused" || v.Status.StepIndex != 1 || v.Status.CanaryRevision != "v2" {
		t.Fatalf("after the restart %+v", v.Status)
	}
	if n := w.CountCalls("CreateTaskSet"); n != created {
		t.Fatalf("%d task sets created after the restart", n-created)
	}
	e.must("abort")
	e.stopUp(syscall.SIGKILL)
	e.startUp()
	e.waitECS("the abort to finish after the restart", func(v ecsView) bool {
		_, ok := taskSet(w, "v2")
		return v.Status.Phase == "Aborted" && !ok && weightsAre(w, 1, 0)
	})
	e.must("start", "v3")
	e.waitECS("a new canary at 10%", func(v ecsView) bool { return v.Status.CanaryRevision == "v3" && observed(v) == 100_000 })
	e.must("promote", "--full")
	e.waitECS("v3 stable", func(v ecsView) bool {
		return v.Status.StableRevision == "v3" && v.Status.Phase == "Healthy" && weightsAre(w, 0, 1)
	})
}
