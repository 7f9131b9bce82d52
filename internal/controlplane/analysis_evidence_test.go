package controlplane

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
)

// Evidence written by one control plane and read by the next restores
// what the judge needs: the windows (counts, reservoirs), the cursors, the
// looks, the start, and remote thresholds' last answers (errors included);
// a remote comparison is left to be asked again.
func TestEvidenceRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 123, time.UTC)
	run := fullRun("step|v2|1|1")
	run.view.StartedAt, run.view.Looks = start, 41
	run.cursor[router.Canary], run.cursor[router.Baseline] = 111, 222
	v := 0.25
	run.metrics = []judge.Metric{{Name: "p99", Kind: judge.Threshold}, {Name: "db", Kind: judge.Threshold}, {Name: "cw", Kind: judge.ErrorRate}, {Name: "errors", Kind: judge.ErrorRate}}
	run.remote = []bool{true, true, true, false}
	run.inputs = map[string]judge.Input{
		"p99":    {Value: &v, Query: "GET http://127.0.0.1/p99 $.v"},
		"db":     {Query: "up", Err: errors.New("prometheus: timeout")},
		"cw":     {CanaryTotal: 10, BaselineTotal: 10},
		"errors": {CanaryTotal: 99},
	}
	r := &rollout{}
	r.analysis.stage = run
	raw := r.evidenceJSON(start.Add(time.Minute))

	next := &rollout{}
	if err := json.Unmarshal(raw, &next.analysis.stored); err != nil {
		t.Fatal(err)
	}
	c := &ControlPlane{log: slog.New(slog.DiscardHandler)}
	fresh := &analysisRun{ref: engine.AnalysisRef{Key: "step|v2|1|1"}, window: provider.NewWindow(9), inputs: map[string]judge.Input{},
		cursor: map[router.Version]int64{}, fetch: newRemoteFetches()}
	if !c.restoreRun(next, fresh) || len(next.analysis.stored) != 0 {
		t.Fatalf("not restored; left %d", len(next.analysis.stored))
	}
	if !fresh.view.StartedAt.Equal(start) || fresh.view.Looks != 41 || fresh.cursor[router.Canary] != 111 || fresh.cursor[router.Baseline] != 222 {
		t.Fatalf("restored start %v looks %d cursors %v", fresh.view.StartedAt, fresh.view.Looks, fresh.cursor)
	}
	for _, ver := range []string{"canary", "baseline"} {
		want, _ := run.window.Snapshot(ver)
		got, _ := fresh.window.Snapshot(ver)
		if got.Total != want.Total || got.ByStatus[503] != want.ByStatus[503] || got.ByStatus[200] != want.ByStatus[200] ||
			len(got.Latencies) != provider.ReservoirSize || got.Revision != "v2" {
			t.Fatalf("%s: restored total %d statuses %v reservoir %d, want %d %v", ver, got.Total, got.ByStatus, len(got.Latencies), want.Total, want.ByStatus)
		}
		for i := range got.Latencies {
			if d := got.Latencies[i] - want.Latencies[i]; d > 0.0005001 || d < -0.0005001 {
				t.Fatalf("%s latency %d: %v, stored as %v", ver, i, want.Latencies[i], got.Latencies[i])
			}
		}
	}
	if in := fresh.inputs["p99"]; in.Value == nil || *in.Value != 0.25 || in.Query != "GET http://127.0.0.1/p99 $.v" {
		t.Fatalf("p99 input %+v", in)
	}
	if in := fresh.inputs["db"]; in.Err == nil || in.Err.Error() != "prometheus: timeout" {
		t.Fatalf("db input %+v", in)
	}
	if _, ok := fresh.inputs["cw"]; ok {
		t.Fatal("a remote comparison's counts were restored instead of asked again")
	}
	if _, ok := fresh.inputs["errors"]; ok {
		t.Fatal("a router metric's input was stored: it is judged from the window")
	}
	// Evidence of another run is not taken.
	other := &analysisRun{ref: engine.AnalysisRef{Key: "step|v3|2|1"}, window: provider.NewWindow(1), inputs: map[string]judge.Input{},
		cursor: map[router.Version]int64{}, fetch: newRemoteFetches()}
	next.analysis.stored = []v1alpha1.AnalysisEvidence{{Key: "step|v2|1|1"}}
	if c.restoreRun(next, other) || len(next.analysis.stored) != 1 {
		t.Fatal("evidence of another analysis was taken")
	}
}
