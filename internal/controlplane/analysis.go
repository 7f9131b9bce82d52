package controlplane

import (
	"context"
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/analysis/run"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Analysis in the control plane: internal/analysis/run keeps the release's
// analyses (which ones engine.Analyses names, their windows, providers,
// remote ones asked beside the tick, the judge), as the cluster's
// controller's. What is the control plane's is at the edges: every tick the
// router samples that finished since the last tick are added (collect), the
// verdicts go to the engine as observations, and what the judge needs is
// stored beside the status (analysis_evidence.go), so a restarted control
// plane goes on with the same evidence. The latest report of each run
// stays in memory for the API.

// analysisState is one rollout's analyses, guarded by the rollout's mu.
type analysisState struct {
	// runs are the running (or last) runs.
	runs run.State
	// savedAt is when the evidence was last written.
	savedAt time.Time
}

// analyze runs the release's analyses for this tick and puts their
// verdicts into obs. Called from reconcile with r.mu held.
func (c *ControlPlane) analyze(ctx context.Context, r *rollout, obs *engine.Observations) {
	now := time.Now()
	a := &r.analysis.runs
	opts := run.Options{RouterData: true, Env: func(w *provider.Window) provider.Env { return c.providerEnv(r, w) }}
	for _, nr := range a.Sync(r.spec, r.status, opts, now) {
		v := nr.View()
		c.log.Info("analysis started", "rollout", r.spec.Metadata.Name, "kind", v.Kind, "revision", v.Revision,
			"metrics", nr.Metrics(), "comparedWith", v.ComparedWith, "resumed", nr.Resumed())
	}
	if !a.Running() {
		return
	}
	c.collect(r)
	a.Judge(ctx, r.spec, now, obs)
	c.checkpoint(ctx, r, now)
}

// endStaleAnalyses ends runs as soon as a transition leaves their step or
// release, so the API never shows a finished analysis as running and a
// remote fetch still in flight for it is cancelled.
func (r *rollout) endStaleAnalyses() { r.analysis.runs.EndStale(r.spec, r.status) }

// stopAnalyses stores the evidence of the running analyses one last time
// and ends them when the control plane closes, so the next one goes on from
// here and no remote fetch outlives this one.
func (c *ControlPlane) stopAnalyses(ctx context.Context, r *rollout) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.analysis.runs.Running() {
		r.analysis.savedAt = time.Time{}
		c.checkpoint(ctx, r, time.Now())
	}
	r.analysis.runs.End()
}

// providerEnv is what a rollout's metric providers may use: the router's
// samples, and on ECS the target groups of the task sets.
func (c *ControlPlane) providerEnv(r *rollout, w *provider.Window) provider.Env {
	env := provider.Env{Router: diffWindow{w, c, r.spec.Metadata.Name, r.status.CanaryRevision}}
	if e := r.spec.Spec.Platform.ECS; e != nil {
		env.TargetGroups, env.AWS = targetGroupsOf{rollout: r.spec.Metadata.Name, pf: r.pf()}, e.AWS
	}
	return env
}

// collect adds the router samples that finished since the last tick to
// every running analysis, counting each sample once per run and none from
// before the run began. Samples of a revision other than the expected one
// (a previous canary's leftovers) are skipped.
func (c *ControlPlane) collect(r *rollout) {
	a := &r.analysis.runs
	name := r.spec.Metadata.Name
	for _, role := range run.Roles(r.spec, r.status) {
		since, ok := a.Since(role.Version)
		v := router.Version(role.Version)
		if !ok || c.router.Counts(name, v).Revision != role.Revision {
			continue // nothing runs, or the router has not served this revision yet
		}
		for _, s := range c.router.Samples(name, v, since) {
			a.AddNext(role, time.Unix(0, s.UnixNano), s.Status, s.Latency)
		}
	}
}

// Diff returns the comparison of a rollout's mirrored answers, as the data
// plane's router keeps it (also after the release ended).
func (c *ControlPlane) Diff(ctx context.Context, name string) (wire.DiffReport, error) {
	if _, ok := c.rollouts[name]; !ok {
		return wire.DiffReport{}, wire.ErrNotFound
	}
	rep, ok := c.router.MirrorReport(name)
	if !ok {
		return wire.DiffReport{}, noMirror(name)
	}
	return rep, nil
}

// diffWindow is an analysis's data source: the router samples it
// accumulated, and the router's comparison of mirrored answers of the
// canary revision.
type diffWindow struct {
	*provider.Window
	c        *ControlPlane
	rollout  string
	revision string
}

// MirrorDifference reads the data plane's comparison; one of another
// canary revision (a previous release's) counts as none.
func (d diffWindow) MirrorDifference() (float64, int64, bool) {
	rep, ok := d.c.router.MirrorReport(d.rollout)
	if !ok || rep.Revisions.Candidate != d.revision {
		return 0, 0, false
	}
	return rep.DifferenceAboveNoise, rep.Samples, true
}

// noMirror is the 404 of a rollout that never mirrored.
type noMirror string

func (n noMirror) Error() string {
	return fmt.Sprintf("rollout %s has mirrored no traffic (a setMirror step or spec.strategy.canary.mirror starts it)", string(n))
}

func (noMirror) Is(target error) bool { return target == wire.ErrNotFound }

// Analysis returns a rollout's current or last analyses.
func (c *ControlPlane) Analysis(ctx context.Context, name string) ([]wire.AnalysisRun, error) {
	r, ok := c.rollouts[name]
	if !ok {
		return nil, wire.ErrNotFound
	}
	return r.analysisViews(), nil
}

func (r *rollout) analysisViews() []wire.AnalysisRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.analysis.runs.Views()
}
