package controlplane

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// fullRun is a running analysis whose window holds full latency
// reservoirs for the canary and the baseline: the largest evidence a run
// stores.
func fullRun(key string) *analysisRun {
	rng := rand.New(rand.NewPCG(1, 2))
	run := &analysisRun{ref: engine.AnalysisRef{Key: key}, window: provider.NewWindow(3), running: true,
		cursor: map[router.Version]int64{}, fetch: newRemoteFetches()}
	for _, v := range []string{"canary", "baseline"} {
		for range 50_000 {
			st := 200
			if rng.IntN(100) == 0 {
				st = 503
			}
			run.window.Add(v, "v2", st, time.Duration(rng.ExpFloat64()*float64(20*time.Millisecond)))
		}
	}
	return run
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
	r := &rollout{}
	r.analysis.background, r.analysis.stage = fullRun("background|v2|1|-1"), fullRun("step|v2|1|1")
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
