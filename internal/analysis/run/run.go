// Package run is one release's analyses as the cluster's controller runs
// them: those engine.Analyses names (the strategy's background analysis
// and the current stage's: a canary analysis step, blue/green's pre- or
// post-promotion analysis), each a Run that
// accumulates the router's samples in its own provider.Window, asks each
// metric's provider at its interval, and re-judges with judge.Config.Look
// counting evaluations. The verdict goes to the engine as an observation,
// which decides (Fail aborts, a finished step passes or pauses).
//
// Where the router's samples come from is the caller's (the controller
// reads every router replica in the cluster): it adds them with State.Add,
// which routes each sample to the runs that had begun when it finished.
// The one machine's control plane runs the same judge and providers with
// its own durable runs (internal/controlplane/analysis.go).
package run

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// FetchTimeout bounds one remote provider call: the caller's pass waits
// for it.
const FetchTimeout = 3 * time.Second

// Run is one analysis of one release: the step's or the background.
type Run struct {
	key     string // identifies the run; a new key starts afresh
	ref     engine.AnalysisRef
	view    wire.AnalysisRun
	window  *provider.Window
	metrics []judge.Metric
	provs   []provider.Provider // nil: the metric's input is its error
	every   []time.Duration
	next    []time.Time
	inputs  map[string]judge.Input
	running bool
}

// Running reports whether r is a run still judging.
func (r *Run) Running() bool { return r != nil && r.running }

// View is the run as the API shows it.
func (r *Run) View() wire.AnalysisRun { return r.view }

// end marks the run ended, keeping its last report.
func (r *Run) end() { r.running, r.view.Running = false, false }

// newRun starts the run ref names. routerData says whether the caller
// feeds router samples; without them a router metric's input is an error
// (Inconclusive), never an empty window taken for "no errors".
func newRun(ref engine.AnalysisRef, sp v1alpha1.Rollout, st v1alpha1.RolloutStatus, routerData bool, now time.Time) *Run {
	s := sp.Spec
	nv := wire.AnalysisRun{Kind: ref.Kind, Revision: ref.Revision, ComparedWith: s.ComparedWith(),
		CompareRevision: st.StableRevision, StartedAt: now, Running: true}
	if ref.Kind == engine.AnalysisStep {
		nv.Step = ref.Step + 1
	}
	if ref.Settings != nil {
		// A stage's window is the stage's time, as its duration is: the
		// requests served before this run was made count (and a caller
		// started anew after a crash reads what its source still holds).
		if t := st.StepStartedAt; !t.IsZero() && !t.After(now) {
			nv.StartedAt = t
		}
	}
	h := fnv.New64a()
	h.Write([]byte(ref.Key))
	r := &Run{key: ref.Key, ref: ref, view: nv, window: provider.NewWindow(h.Sum64()), inputs: map[string]judge.Input{}, running: true}
	var src provider.Source
	if routerData {
		src = r.window
	}
	for _, m := range s.Resolve(ref.Metrics) {
		// No target groups: a cluster runs no ECS services, so a
		// cloudwatch metric says it has none to read.
		p, err := provider.New(m, provider.Env{Router: src})
		if m.Provider.Router != nil && !routerData {
			p, err = nil, fmt.Errorf("metric %s: no router samples: the traffic does not go through kanaria's router", m.Name)
		}
		r.metrics = append(r.metrics, judge.FromSpec(m))
		r.provs = append(r.provs, p)
		r.every = append(r.every, m.EffectiveInterval())
		r.next = append(r.next, now)
		if err != nil {
			r.inputs[m.Name] = judge.Input{Err: err}
		}
	}
	return r
}

// judge asks the providers that are due and re-judges when anything was
// fetched; it returns the run's latest verdict for the engine.
func (r *Run) judge(ctx context.Context, rollout string, as *v1alpha1.AnalysisSpec, now time.Time) *engine.AnalysisResult {
	q := provider.Query{Rollout: rollout, Revision: r.view.Revision, ComparedWith: r.view.ComparedWith,
		CompareRevision: r.view.CompareRevision, Start: r.view.StartedAt, Now: now}
	fetched := false
	for i, p := range r.provs {
		if p == nil || now.Before(r.next[i]) {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, FetchTimeout)
		r.inputs[r.metrics[i].Name] = provider.Fetch(fctx, p, q)
		cancel()
		r.next[i] = now.Add(r.every[i])
		fetched = true
	}
	if fetched || r.view.Looks == 0 {
		r.view.Looks++
		cfg := judge.Config{ComparedWith: r.view.ComparedWith, Look: r.view.Looks}
		if as != nil {
			cfg.PassScore, cfg.MarginalScore = as.PassScore, as.MarginalScore
		}
		r.view.Report = judge.Judge(r.metrics, r.inputs, cfg)
		r.view.UpdatedAt = now
		cd, _ := r.window.Snapshot("canary")
		od, _ := r.window.Snapshot(r.view.ComparedWith)
		r.view.CanaryRequests, r.view.CompareRequests = cd.Total, od.Total
	}
	return &engine.AnalysisResult{Kind: r.ref.Kind, Revision: r.view.Revision, Step: r.ref.Step, Verdict: r.view.Report.Verdict.String(),
		CanaryRequests: r.view.CanaryRequests, NeedsData: r.view.Report.NeedsData(), Summary: Summarize(r.view)}
}
