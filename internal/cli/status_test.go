package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// point is one second with stable and canary traffic.
func point(t time.Time, stableReq, canaryReq, canaryErr int, p99 float64) wire.HistoryPoint {
	return wire.HistoryPoint{UnixMS: t.UnixMilli(), Weights: v1alpha1.Weights{CanaryPPM: 200000}, Versions: map[string]wire.VersionPoint{
		"stable": {Revision: "v1", Requests: stableReq, P50Ms: ptr(5.0), P99Ms: ptr(12.0)},
		"canary": {Revision: "v2", Requests: canaryReq, Errors: canaryErr, P50Ms: ptr(9.0), P99Ms: ptr(p99)},
	}}
}

func TestMetricsFromPoolsTheWindow(t *testing.T) {
	now := time.Now()
	var pts []wire.HistoryPoint
	// An old second with a huge p99 falls out of the 5-second window.
	pts = append(pts, point(now.Add(-6*time.Second), 100, 20, 20, 900))
	for i := 5; i > 0; i-- {
		pts = append(pts, point(now.Add(-time.Duration(i)*time.Second), 100, 20, 1, float64(20+i)))
	}
	m := metricsFrom(pts)
	c := m["canary"]
	if c.RPS != 20 || c.ErrorRate != 0.05 || c.P99Ms == nil || *c.P99Ms != 25 || c.Revision != "v2" {
		t.Fatalf("canary: %+v p99 %v", c, c.P99Ms)
	}
	if s := m["stable"]; s.RPS != 100 || s.ErrorRate != 0 {
		t.Fatalf("stable: %+v", s)
	}
	if _, ok := m["baseline"]; ok {
		t.Fatal("baseline appeared from nowhere")
	}
	if len(metricsFrom(nil)) != 0 {
		t.Fatal("metrics from no points")
	}
}

func TestProgressBar(t *testing.T) {
	for _, c := range []struct {
		done, n int
		want    string
	}{{0, 4, "[----]"}, {2, 4, "[##--]"}, {4, 4, "[####]"}, {20, 40, "[##########----------]"}, {0, 0, ""}} {
		if got := progressBar(c.done, c.n); got != c.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", c.done, c.n, got, c.want)
		}
	}
}

func TestRenderLive(t *testing.T) {
	steps := []v1alpha1.Step{{SetWeight: ptr(v1alpha1.Weight(200_000))}, {Pause: &v1alpha1.Pause{}}, {SetWeight: ptr(v1alpha1.Weight(600_000))}, {Pause: &v1alpha1.Pause{}}}
	ev := &wire.Event{ID: 7, Type: "StepReached", Message: "step 2/4: pause (until promote)", Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local)}
	s := liveState{
		View: wire.RolloutView{Name: "web", Steps: steps, Status: v1alpha1.RolloutStatus{
			Phase: v1alpha1.PhasePaused, PausedBy: "step", StableRevision: "v1", CanaryRevision: "v2", StepIndex: 1,
			Weights: v1alpha1.Weights{CanaryPPM: 200000},
		}},
		Metrics: map[string]versionMetrics{
			"stable": {Revision: "v1", RPS: 80, ErrorRate: 0, P99Ms: ptr(12.5)},
			"canary": {Revision: "v2", RPS: 0},
		},
		LastEvent: ev,
	}
	out := renderLive(s)
	for _, want := range []string{
		"rollout:    web  Paused (step)",
		"revisions:  stable v1, canary v2",
		"step:       [#---] 2/4 pause (until promote)",
		"weights:    canary 20%, baseline 0%",
		"last event:  03:04:05 StepReached: step 2/4: pause (until promote)",
		"verdict:     -",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("live view lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	var stable, canary string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "stable" {
			stable = strings.Join(f, " ")
		}
		if len(f) > 0 && f[0] == "canary" {
			canary = strings.Join(f, " ")
		}
	}
	// Without requests there is no error rate and no p99, not "0%".
	if stable != "stable v1 80.0 0.00% 12.5ms" || canary != "canary v2 0.0 - -" {
		t.Fatalf("metric rows %q / %q:\n%s", stable, canary, out)
	}
	if strings.Contains(out, "baseline v") {
		t.Fatal("a baseline row without a baseline")
	}
	s.Metrics = nil
	if out := renderLive(s); !strings.Contains(out, "no metrics history") {
		t.Fatalf("without history:\n%s", out)
	}
}

// histMem serves a metrics history beside the test backend: five seconds
// of 100 req/s on stable and 20 on canary with one error each.
type histMem struct{ *servertest.Backend }

func (h histMem) History(_ context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	var pts []wire.HistoryPoint
	now := time.Now().Truncate(time.Second)
	for i := 5; i > 0; i-- {
		pts = append(pts, point(now.Add(-time.Duration(i)*time.Second), 100, 20, 1, 30))
	}
	return pts, nil
}

func TestStatusWatchPlainLines(t *testing.T) {
	e := newCLIEnv(t)
	// The same state dir, pointed at a server whose backend has history.
	ts := httptest.NewServer(server.New(histMem{e.b}, mustToken(t, e.stateDir), server.Options{}))
	t.Cleanup(ts.Close)
	mustRun(t, e, "start", "v2")
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(500 * time.Millisecond)
		e.b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdPause})
	}()
	out, err := e.runCtx(ctx, "status", "-w", "--interval", "100ms", "--server", ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per change (2), got %d:\n%s", len(lines), out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Fatal("escape sequences in piped output")
	}
	for _, want := range []string{"web | Paused (user)", "canary 20.0 req/s err 5.00% p99 30.0ms", "stable 100.0 req/s err 0.00% p99 12.0ms"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("second line lacks %q: %s", want, lines[1])
		}
	}
	if !strings.Contains(lines[0], "Progressing") {
		t.Errorf("first line: %s", lines[0])
	}
}

// TestStatusWatchWithoutHistory: a control plane without history still
// gets a watch, without metrics.
func TestStatusWatchWithoutHistory(t *testing.T) {
	e := newCLIEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	out, err := e.runCtx(ctx, "status", "-w", "--interval", "100ms")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "web | Healthy") || strings.Contains(lines[0], "req/s") {
		t.Fatalf("watch without history:\n%s", out)
	}
}

func mustToken(t *testing.T, dir string) string {
	t.Helper()
	tok, err := wire.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A stable that does not serve and a canary that is not ready any more are
// said in plain words, as is a weight nobody can read back.
func TestPrintStatusSaysNotServing(t *testing.T) {
	lost := time.Date(2026, 12, 2, 7, 0, 0, 0, time.Local)
	v := wire.RolloutView{Name: "web", Status: v1alpha1.RolloutStatus{
		Phase: v1alpha1.PhaseDegraded, StableRevision: "v1",
		Conditions: []v1alpha1.Condition{{Type: v1alpha1.ConditionReady, Status: v1alpha1.ConditionFalse,
			Reason: v1alpha1.ReasonStableNotServing, Message: "stable revision v1 does not serve: command: not found"}},
		ReadyLostAt: lost,
	}}
	var b strings.Builder
	if err := printStatus(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"phase:", "Degraded", "observed:     unknown",
		"serving:      no (StableNotServing): stable revision v1 does not serve: command: not found",
		"canaryReady:  no, since 07:00:00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
