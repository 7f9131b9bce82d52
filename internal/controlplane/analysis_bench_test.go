package controlplane

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/run"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// fullAnalyses is a rollout at an analysis step with a background
// analysis, both runs' windows holding full latency reservoirs for the
// canary and the baseline: the largest evidence a rollout stores.
func fullAnalyses() *rollout {
	r := &rollout{spec: v1alpha1.Rollout{Metadata: v1alpha1.Metadata{Name: "web"}, Spec: v1alpha1.RolloutSpec{
		Analysis: &v1alpha1.AnalysisSpec{Metrics: []v1alpha1.MetricSpec{{
			Name: "errors", Kind: "errorRate", Provider: v1alpha1.MetricProvider{Router: &v1alpha1.RouterMetric{}},
		}}},
		Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			Baseline: true, Analysis: &v1alpha1.BackgroundAnalysis{},
			Steps: []v1alpha1.Step{{SetWeight: new(v1alpha1.Weight)}, {Analysis: &v1alpha1.AnalysisStep{}}},
		}},
	}}, status: v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CanaryReady: true, CanaryRevision: "v2",
		StableRevision: "v1", StepIndex: 1}}
	t0 := time.Unix(1_000_000, 0)
	r.analysis.runs.Sync(r.spec, r.status, run.Options{RouterData: true}, t0)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, role := range run.Roles(r.spec, r.status) {
		for i := range 50_000 {
			st := 200
			if rng.IntN(100) == 0 {
				st = 503
			}
			r.analysis.runs.AddNext(role, t0.Add(time.Duration(i)), st, time.Duration(rng.ExpFloat64()*float64(20*time.Millisecond)))
		}
	}
	return r
}

// BenchmarkAnalysisCheckpoint measures one checkpoint of a rollout with a
// background analysis and an analysis step, both with full reservoirs: the
// evidence encoded, and written to SQLite (WAL, synchronous=FULL) as the
// control plane does every second while analyses run. It reports the
// evidence's size.
func BenchmarkAnalysisCheckpoint(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "kanaria.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := fullAnalyses()
	if n := len(r.analysis.runs.Evidence(time.Now())); n != 2 {
		b.Fatalf("%d running analyses, want 2", n)
	}
	ctx := context.Background()
	var size int
	b.ResetTimer()
	for range b.N {
		raw := r.evidenceJSON(time.Now())
		size = len(raw)
		if err := st.SaveAnalysis(ctx, "web", raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes/checkpoint")
}
