package run

import (
	"context"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// State is one rollout's analyses: the background run and the current
// stage's (Step: a canary analysis step, or blue/green's pre- or
// post-promotion analysis). Its
// caller serialises access (the rollout's lock, or one reconcile at a
// time).
type State struct {
	Background, Step *Run
}

// Sync keeps each run whose key engine.Analyses still names, ends one
// (keeping its last report) it no longer names, and starts the ones due;
// it returns the runs it started. routerData: see newRun.
func (s *State) Sync(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus, routerData bool, now time.Time) (started []*Run) {
	var bg, stage *engine.AnalysisRef
	for _, ref := range engine.Analyses(sp, st) {
		if ref.Kind == engine.AnalysisBackground {
			bg = &ref
		} else {
			stage = &ref
		}
	}
	sync := func(r *Run, ref *engine.AnalysisRef) *Run {
		switch {
		case ref == nil && r != nil:
			r.end()
			return r
		case ref == nil || (r != nil && r.key == ref.Key):
			return r
		}
		nr := newRun(*ref, sp, st, routerData, now)
		started = append(started, nr)
		return nr
	}
	s.Background = sync(s.Background, bg)
	s.Step = sync(s.Step, stage)
	return started
}

// EndStale marks runs ended as soon as a transition leaves their stage or
// release, so the API never shows a finished analysis as running.
func (s *State) EndStale(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) {
	keys := map[string]bool{}
	for _, ref := range engine.Analyses(sp, st) {
		keys[ref.Key] = true
	}
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() && !keys[r.key] {
			r.end()
		}
	}
}

// Running reports whether any run is judging.
func (s *State) Running() bool { return s.Background.Running() || s.Step.Running() }

// Since is when the earliest running run began: samples that finished
// before it belong to no run. Zero when none runs.
func (s *State) Since() time.Time {
	var t time.Time
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() && (t.IsZero() || r.view.StartedAt.Before(t)) {
			t = r.view.StartedAt
		}
	}
	return t
}

// Role is a version whose samples the runs judge, with the revision they
// must be of.
type Role struct {
	Version  string // "canary", "baseline" or "stable"
	Revision string
}

// Roles are the canary and the version it is compared with (both copies
// of the comparison run the stable revision).
func Roles(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) []Role {
	return []Role{{"canary", st.CanaryRevision}, {sp.Spec.ComparedWith(), st.StableRevision}}
}

// Add records one request that finished at finished, of role's version,
// in every running run that had begun by then.
func (s *State) Add(role Role, finished time.Time, status int, latency time.Duration) {
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() && !finished.Before(r.view.StartedAt) {
			r.window.Add(role.Version, role.Revision, status, latency)
		}
	}
}

// Judge judges the running runs and puts their verdicts into obs.
func (s *State) Judge(ctx context.Context, sp v1alpha1.Rollout, now time.Time, obs *engine.Observations) {
	if r := s.Background; r.Running() {
		obs.BackgroundAnalysis = r.judge(ctx, sp.Metadata.Name, sp.Spec.Analysis, now)
	}
	if r := s.Step; r.Running() {
		obs.StepAnalysis = r.judge(ctx, sp.Metadata.Name, sp.Spec.Analysis, now)
	}
}

// Views are the current or last runs, for the API.
func (s *State) Views() []wire.AnalysisRun {
	var out []wire.AnalysisRun
	for _, r := range []*Run{s.Background, s.Step} {
		if r != nil {
			out = append(out, r.view)
		}
	}
	return out
}
