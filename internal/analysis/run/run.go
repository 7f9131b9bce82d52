// Package run keeps one release's analyses, for the one machine's control
// plane (internal/controlplane) and the cluster's controller
// (internal/controller) alike: those engine.Analyses names (the strategy's
// background analysis and the current stage's: a canary analysis step,
// blue/green's pre- or post-promotion analysis), each a Run that
// accumulates the router's samples in its own provider.Window (cumulative
// counts per status and a bounded latency reservoir), asks each metric's
// provider at its interval, and re-judges with judge.Config.Look counting
// evaluations. The verdict goes to the engine as an observation, which
// decides (Fail aborts, a finished step passes or pauses).
//
// Local providers (the router's window) are read in the caller's pass;
// remote ones (prometheus, web, cloudwatch) are asked beside it (fetch.go):
// at most one call in flight per metric, cancelled when the run ends, its
// answer judged at the first pass after it came. A provider that hangs
// delays no pass.
//
// The package does no I/O of its own beyond the providers. Where the
// router's samples come from is the caller's (State.Add, State.AddNext),
// and so is where the evidence goes: State.Evidence is what the judge
// needs of each running run, State.Resume hands it back after a restart
// (evidence.go).
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

// Options are how a caller's runs are made.
type Options struct {
	// RouterData says whether the caller feeds router samples; without
	// them a router metric's input is an error (Inconclusive), never an
	// empty window taken for "no errors".
	RouterData bool
	// Env is what a new run's providers may use, given the run's window
	// (nil: the window as the router source when RouterData).
	Env func(w *provider.Window) provider.Env
	// StageFromStepStart starts a stage's run at the step's start (the
	// status's StepStartedAt), so a caller that keeps no evidence and
	// starts anew after a crash still counts what its source holds of the
	// stage. A caller that keeps evidence starts runs when it makes them.
	StageFromStepStart bool
}

// Run is one analysis of one release: the stage's or the background.
type Run struct {
	ref     engine.AnalysisRef
	view    wire.AnalysisRun
	window  *provider.Window
	metrics []judge.Metric
	provs   []provider.Provider // nil: the metric's input is its error
	remote  []bool
	every   []time.Duration
	next    []time.Time
	inputs  map[string]judge.Input
	running bool
	resumed bool
	// cursor is, per version, the finish time (Unix ns) of the newest
	// sample AddNext added.
	cursor map[string]int64
	// fetch is the state of remote fetches, shared with their goroutines.
	fetch *remoteFetches
}

// Running reports whether r is a run still judging.
func (r *Run) Running() bool { return r != nil && r.running }

// View is the run as the API shows it.
func (r *Run) View() wire.AnalysisRun { return r.view }

// Metrics is how many metrics the run judges.
func (r *Run) Metrics() int { return len(r.metrics) }

// Resumed reports whether the run went on from stored evidence.
func (r *Run) Resumed() bool { return r.resumed }

// end marks the run ended, keeping its last report, and cancels its
// remote fetches.
func (r *Run) end() {
	r.running, r.view.Running = false, false
	r.fetch.cancel()
}

// newRun starts the run ref names.
func newRun(ref engine.AnalysisRef, sp v1alpha1.Rollout, st v1alpha1.RolloutStatus, o Options, now time.Time) *Run {
	s := sp.Spec
	nv := wire.AnalysisRun{Kind: ref.Kind, Revision: ref.Revision, ComparedWith: s.ComparedWith(),
		CompareRevision: st.StableRevision, StartedAt: now, Running: true}
	if ref.Kind == engine.AnalysisStep {
		nv.Step = ref.Step + 1
	}
	if ref.Settings != nil && o.StageFromStepStart {
		if t := st.StepStartedAt; !t.IsZero() && !t.After(now) {
			nv.StartedAt = t
		}
	}
	h := fnv.New64a()
	h.Write([]byte(ref.Key))
	r := &Run{ref: ref, view: nv, window: provider.NewWindow(h.Sum64()), inputs: map[string]judge.Input{}, running: true,
		cursor: map[string]int64{}, fetch: newRemoteFetches()}
	env := provider.Env{}
	switch {
	case o.Env != nil:
		env = o.Env(r.window)
	case o.RouterData:
		env.Router = r.window
	}
	for _, m := range s.Resolve(ref.Metrics) {
		p, err := provider.New(m, env)
		if m.Provider.Router != nil && !o.RouterData {
			p, err = nil, fmt.Errorf("metric %s: no router samples: the traffic does not go through kanaria's router", m.Name)
		}
		r.metrics = append(r.metrics, judge.FromSpec(m))
		r.provs = append(r.provs, p)
		r.remote = append(r.remote, p != nil && p.Capabilities().Remote)
		r.every = append(r.every, m.EffectiveInterval())
		r.next = append(r.next, now)
		if err != nil {
			r.inputs[m.Name] = judge.Input{Err: err}
		}
	}
	return r
}

// judge asks the providers that are due (remote ones beside the pass) and
// re-judges when anything was fetched or arrived; it returns the run's
// latest verdict for the engine.
func (r *Run) judge(ctx context.Context, rollout string, as *v1alpha1.AnalysisSpec, now time.Time) *engine.AnalysisResult {
	q := provider.Query{Rollout: rollout, Revision: r.view.Revision, ComparedWith: r.view.ComparedWith,
		CompareRevision: r.view.CompareRevision, Start: r.view.StartedAt, Now: now}
	fetched := r.takeArrivals()
	for i, p := range r.provs {
		if p == nil || now.Before(r.next[i]) {
			continue
		}
		r.next[i] = now.Add(r.every[i])
		if r.remote[i] {
			r.fetch.start(i, p, q)
			continue
		}
		r.inputs[r.metrics[i].Name] = provider.Fetch(ctx, p, q)
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
		// A provider that counts requests itself (cloudwatch) says how
		// many the canary served when the router saw none.
		for _, in := range r.inputs {
			r.view.CanaryRequests = max(r.view.CanaryRequests, in.CanaryTotal)
			r.view.CompareRequests = max(r.view.CompareRequests, in.BaselineTotal)
		}
	}
	return &engine.AnalysisResult{Kind: r.ref.Kind, Revision: r.view.Revision, Step: r.ref.Step, Verdict: r.view.Report.Verdict.String(),
		CanaryRequests: r.view.CanaryRequests, NeedsData: r.view.Report.NeedsData(), Summary: Summarize(r.view)}
}
