package run

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

// fullRun is a running analysis whose window holds full latency
// reservoirs for the canary and the baseline: the largest evidence a run
// stores.
func fullRun(key string) *Run {
	rng := rand.New(rand.NewPCG(1, 2))
	r := &Run{ref: engine.AnalysisRef{Key: key}, window: provider.NewWindow(3), running: true,
		cursor: map[string]int64{}, fetch: newRemoteFetches()}
	for _, v := range []string{"canary", "baseline"} {
		for range 50_000 {
			st := 200
			if rng.IntN(100) == 0 {
				st = 503
			}
			r.window.Add(v, "v2", st, time.Duration(rng.ExpFloat64()*float64(20*time.Millisecond)))
		}
	}
	return r
}

// Evidence written by one caller and read back by the next (as JSON, as
// the control plane stores it) restores what the judge needs: the windows
// (counts, reservoirs), the cursors, the looks, the start, and remote
// thresholds' last answers (errors included); a remote comparison is left
// to be asked again.
func TestEvidenceRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 123, time.UTC)
	run := fullRun("step|v2|1|1")
	run.view.StartedAt, run.view.Looks = start, 41
	run.cursor["canary"], run.cursor["baseline"] = 111, 222
	v := 0.25
	run.metrics = []judge.Metric{{Name: "p99", Kind: judge.Threshold}, {Name: "db", Kind: judge.Threshold}, {Name: "cw", Kind: judge.ErrorRate}, {Name: "errors", Kind: judge.ErrorRate}}
	run.remote = []bool{true, true, true, false}
	run.inputs = map[string]judge.Input{
		"p99":    {Value: &v, Query: "GET http://127.0.0.1/p99 $.v"},
		"db":     {Query: "up", Err: errors.New("prometheus: timeout")},
		"cw":     {CanaryTotal: 10, BaselineTotal: 10},
		"errors": {CanaryTotal: 99},
	}
	s := State{Step: run}
	raw, err := json.Marshal(s.Evidence(start.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}

	var stored []v1alpha1.AnalysisEvidence
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	var next State
	next.Resume(stored)
	fresh := &Run{ref: engine.AnalysisRef{Key: "step|v2|1|1"}, window: provider.NewWindow(9), inputs: map[string]judge.Input{},
		cursor: map[string]int64{}, fetch: newRemoteFetches()}
	if next.restore(fresh); !fresh.Resumed() || len(next.stored) != 0 {
		t.Fatalf("not restored; left %d", len(next.stored))
	}
	if !fresh.view.StartedAt.Equal(start) || fresh.view.Looks != 41 || fresh.cursor["canary"] != 111 || fresh.cursor["baseline"] != 222 {
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
	// Evidence of another run is not taken; evidence no run took up is
	// stored again with the next write.
	other := &Run{ref: engine.AnalysisRef{Key: "step|v3|2|1"}, window: provider.NewWindow(1), inputs: map[string]judge.Input{},
		cursor: map[string]int64{}, fetch: newRemoteFetches()}
	next.Resume([]v1alpha1.AnalysisEvidence{{Key: "step|v2|1|1"}})
	if next.restore(other); other.Resumed() || len(next.stored) != 1 {
		t.Fatal("evidence of another analysis was taken")
	}
	if ev := next.Evidence(start); len(ev) != 1 || ev[0].Key != "step|v2|1|1" {
		t.Fatalf("evidence not yet taken up was dropped: %+v", ev)
	}
}

// TestAddNext: samples read again from Since count once per run, and a
// run counts none from before it began.
func TestAddNext(t *testing.T) {
	sp, t0 := testSpec(), time.Unix(1_000_000, 0)
	var s State
	s.Sync(sp, status(0, t0), Options{RouterData: true}, t0)
	s.Sync(sp, status(1, t0), Options{RouterData: true}, t0.Add(time.Second))
	canary := Role{"canary", "v2"}
	for range 2 { // the same samples read twice
		since, _ := s.Since("canary")
		for i := range 10 {
			if at := t0.Add(time.Duration(i) * 200 * time.Millisecond); !at.Before(since) {
				s.AddNext(canary, at, 200, time.Millisecond)
			}
		}
	}
	bg, _ := s.Background.window.Snapshot("canary")
	st, _ := s.Step.window.Snapshot("canary")
	if bg.Total != 10 || st.Total != 5 {
		t.Fatalf("background counted %d (want 10), the step %d (want 5: those from its start)", bg.Total, st.Total)
	}
}

// TestAddNextStageOnly: a release whose only analysis is its stage's (no
// background analysis, as blue/green's pre-promotion) takes samples.
func TestAddNextStageOnly(t *testing.T) {
	sp, t0 := testSpec(), time.Unix(1_000_000, 0)
	sp.Spec.Strategy.Canary.Analysis = nil
	var s State
	s.Sync(sp, status(1, t0), Options{RouterData: true}, t0)
	if s.Background != nil || !s.Step.Running() {
		t.Fatalf("background %v, step running %v", s.Background, s.Step.Running())
	}
	s.AddNext(Role{"canary", "v2"}, t0, 200, time.Millisecond)
	if d, _ := s.Step.window.Snapshot("canary"); d.Total != 1 {
		t.Fatalf("the step counted %d samples, want 1", d.Total)
	}
}
