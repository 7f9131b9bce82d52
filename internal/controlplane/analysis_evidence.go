package controlplane

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/router"
)

// Durable analysis: what the judge needs of each running analysis (the
// router's counts per status, the latency reservoir, the looks taken, the
// newest sample counted, remote metrics' last answers) is written to the
// store with every transition, in its transaction, and as a checkpoint
// every analysisCheckpoint between transitions. A control plane restarted
// after a kill -9 reads it back and each analysis goes on with the same
// evidence: the samples the router served since the checkpoint are still
// in its ring (the data plane outlives the control plane) and are counted
// from the stored cursor on, none twice.

// analysisCheckpoint is how often the evidence of running analyses is
// written between transitions.
const analysisCheckpoint = time.Second

// loadEvidence reads back the stored evidence for the runs to pick up.
func (c *ControlPlane) loadEvidence(ctx context.Context, r *rollout) {
	raw, ok, err := c.store.Analysis(ctx, r.spec.Metadata.Name)
	if err != nil || !ok || len(raw) == 0 {
		if err != nil {
			c.log.Warn("stored analysis evidence is unreadable; analyses start afresh", "rollout", r.spec.Metadata.Name, "err", err)
		}
		return
	}
	if err := json.Unmarshal(raw, &r.analysis.stored); err != nil {
		c.log.Warn("stored analysis evidence is unreadable; analyses start afresh", "rollout", r.spec.Metadata.Name, "err", err)
	}
}

// restoreRun fills a new run from the stored evidence with its key, if
// any, and reports whether it did.
func (c *ControlPlane) restoreRun(r *rollout, run *analysisRun) bool {
	stored := r.analysis.stored
	for i, ev := range stored {
		if ev.Key != run.ref.Key {
			continue
		}
		r.analysis.stored = append(stored[:i:i], stored[i+1:]...)
		run.view.StartedAt, run.view.Looks = ev.StartedAt, ev.Looks
		for _, v := range ev.Versions {
			d := provider.VersionData{Revision: v.Revision, Total: v.Total, ByStatus: map[int]int64{}, Latencies: v.Latencies}
			for _, sc := range v.Statuses {
				d.ByStatus[sc.Status] = sc.Count
			}
			run.window.Restore(v.Version, d)
			run.cursor[router.Version(v.Version)] = v.LastSample
		}
		for _, m := range ev.Metrics {
			in := judge.Input{Value: m.Value, Query: m.Query}
			if m.Error != "" {
				in.Err = storedError(m.Error)
			}
			run.inputs[m.Name] = in
		}
		return true
	}
	return false
}

// storedError is a provider's error read back from the store.
type storedError string

func (e storedError) Error() string { return string(e) }

// evidence is what a running analysis has measured, to be stored.
func (run *analysisRun) evidence(now time.Time) v1alpha1.AnalysisEvidence {
	ev := v1alpha1.AnalysisEvidence{Key: run.ref.Key, StartedAt: run.view.StartedAt, Looks: run.view.Looks, UpdatedAt: now}
	for _, v := range run.window.Versions() {
		d, _ := run.window.Snapshot(v)
		ve := v1alpha1.VersionEvidence{Version: v, Revision: d.Revision, Total: d.Total, LastSample: run.cursor[router.Version(v)],
			Latencies: make([]float64, len(d.Latencies))}
		for i, l := range d.Latencies {
			ve.Latencies[i] = math.Round(l*1000) / 1000 // microseconds: plenty for a rank test, half the bytes
		}
		for s, n := range d.ByStatus {
			ve.Statuses = append(ve.Statuses, v1alpha1.StatusCount{Status: s, Count: n})
		}
		sort.Slice(ve.Statuses, func(i, j int) bool { return ve.Statuses[i].Status < ve.Statuses[j].Status })
		ev.Versions = append(ev.Versions, ve)
	}
	for i, m := range run.metrics {
		in, ok := run.inputs[m.Name]
		if !ok || !run.remote[i] || m.Kind != judge.Threshold {
			// Router metrics are judged again from the window; a remote
			// comparison (CloudWatch) is asked again at once, its source
			// keeps the counts for the whole window.
			continue
		}
		me := v1alpha1.MetricEvidence{Name: m.Name, Value: in.Value, Query: in.Query, At: now}
		if in.Err != nil {
			me.Error = in.Err.Error()
		}
		ev.Metrics = append(ev.Metrics, me)
	}
	return ev
}

// evidenceJSON is the rollout's evidence to store: its running analyses',
// and whatever stored evidence no run has taken up yet (a transition right
// after a restart must not lose it).
func (r *rollout) evidenceJSON(now time.Time) []byte {
	out := append([]v1alpha1.AnalysisEvidence{}, r.analysis.stored...)
	for _, run := range []*analysisRun{r.analysis.background, r.analysis.stage} {
		if run.isRunning() {
			out = append(out, run.evidence(now))
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil // nil leaves the stored evidence as it was
	}
	return raw
}

// checkpoint writes the evidence of the running analyses when the last
// write is analysisCheckpoint old.
func (c *ControlPlane) checkpoint(ctx context.Context, r *rollout, now time.Time) {
	if now.Sub(r.analysis.savedAt) < analysisCheckpoint {
		return
	}
	r.analysis.savedAt = now
	if err := c.store.SaveAnalysis(ctx, r.spec.Metadata.Name, r.evidenceJSON(now)); err != nil {
		c.log.Warn("cannot store analysis evidence", "rollout", r.spec.Metadata.Name, "err", err)
	}
}
