package run

import (
	"math"
	"sort"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
)

// Evidence is what the judge needs of each running run (the counts per
// status, the latency reservoir, the looks taken, the newest sample
// counted, remote thresholds' last answers), for the caller to store: a
// caller restarted hands it back with Resume and each run goes on with the
// same evidence. It includes whatever Resume handed back that no run has
// taken up yet (a transition stored right after a restart must not lose
// it).
func (s *State) Evidence(now time.Time) []v1alpha1.AnalysisEvidence {
	out := append([]v1alpha1.AnalysisEvidence{}, s.stored...)
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() {
			out = append(out, r.evidence(now))
		}
	}
	return out
}

// Resume hands back stored evidence: the next Sync starts each run that
// has evidence from it.
func (s *State) Resume(stored []v1alpha1.AnalysisEvidence) { s.stored = stored }

// restore fills a new run from the stored evidence with its key, if any.
func (s *State) restore(r *Run) {
	for i, ev := range s.stored {
		if ev.Key != r.ref.Key {
			continue
		}
		s.stored = append(s.stored[:i:i], s.stored[i+1:]...)
		r.resumed = true
		r.view.StartedAt, r.view.Looks = ev.StartedAt, ev.Looks
		for _, v := range ev.Versions {
			d := provider.VersionData{Revision: v.Revision, Total: v.Total, ByStatus: map[int]int64{}, Latencies: v.Latencies}
			for _, sc := range v.Statuses {
				d.ByStatus[sc.Status] = sc.Count
			}
			r.window.Restore(v.Version, d)
			r.cursor[v.Version] = v.LastSample
		}
		for _, m := range ev.Metrics {
			in := judge.Input{Value: m.Value, Query: m.Query}
			if m.Error != "" {
				in.Err = storedError(m.Error)
			}
			r.inputs[m.Name] = in
		}
		return
	}
}

// storedError is a provider's error read back from the store.
type storedError string

func (e storedError) Error() string { return string(e) }

// evidence is what a running run has measured, to be stored.
func (r *Run) evidence(now time.Time) v1alpha1.AnalysisEvidence {
	ev := v1alpha1.AnalysisEvidence{Key: r.ref.Key, StartedAt: r.view.StartedAt, Looks: r.view.Looks, UpdatedAt: now}
	for _, v := range r.window.Versions() {
		d, _ := r.window.Snapshot(v)
		ve := v1alpha1.VersionEvidence{Version: v, Revision: d.Revision, Total: d.Total, LastSample: r.cursor[v],
			Latencies: make([]float64, len(d.Latencies))}
		for i, l := range d.Latencies {
			ve.Latencies[i] = math.Round(l*1000) / 1000 // microseconds: plenty for a rank test, half the bytes
		}
		for st, n := range d.ByStatus {
			ve.Statuses = append(ve.Statuses, v1alpha1.StatusCount{Status: st, Count: n})
		}
		sort.Slice(ve.Statuses, func(i, j int) bool { return ve.Statuses[i].Status < ve.Statuses[j].Status })
		ev.Versions = append(ev.Versions, ve)
	}
	for i, m := range r.metrics {
		in, ok := r.inputs[m.Name]
		if !ok || !r.remote[i] || m.Kind != judge.Threshold {
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
