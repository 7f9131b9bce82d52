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
// post-promotion analysis). Its caller serialises access (the rollout's
// lock, or one reconcile at a time).
type State struct {
	Background, Step *Run
	// stored is the evidence Resume handed back, taken by the run whose
	// key it has.
	stored []v1alpha1.AnalysisEvidence
}

// Sync keeps each run whose key engine.Analyses still names, ends one
// (keeping its last report) it no longer names, and starts the ones due,
// from the evidence Resume handed back when there is some for them; it
// returns the runs it started. Evidence no run took up is dropped: it
// belongs to analyses that are over.
func (s *State) Sync(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus, o Options, now time.Time) (started []*Run) {
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
		case ref == nil && r.Running():
			r.end()
			return r
		case ref == nil || (r.Running() && r.ref.Key == ref.Key):
			return r
		case r.Running():
			r.end()
		}
		nr := newRun(*ref, sp, st, o, now)
		s.restore(nr)
		started = append(started, nr)
		return nr
	}
	s.Background = sync(s.Background, bg)
	s.Step = sync(s.Step, stage)
	s.stored = nil
	return started
}

// EndStale marks runs ended as soon as a transition leaves their stage or
// release, so the API never shows a finished analysis as running and a
// remote fetch still in flight for it is cancelled.
func (s *State) EndStale(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) {
	keys := map[string]bool{}
	for _, ref := range engine.Analyses(sp, st) {
		keys[ref.Key] = true
	}
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() && !keys[r.ref.Key] {
			r.end()
		}
	}
}

// End ends every running run (the caller stops), keeping their reports.
func (s *State) End() {
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() {
			r.end()
		}
	}
}

// Running reports whether any run is judging.
func (s *State) Running() bool { return s.Background.Running() || s.Step.Running() }

// Since is the earliest finish time from which the running runs still
// need samples of version: the earliest start, or just after the newest
// sample AddNext added. ok is false when none runs.
func (s *State) Since(version string) (since time.Time, ok bool) {
	for _, r := range []*Run{s.Background, s.Step} {
		if !r.Running() {
			continue
		}
		from := r.view.StartedAt.UnixNano()
		if c, seen := r.cursor[version]; seen {
			from = max(from, c+1)
		}
		if !ok || from < since.UnixNano() {
			since, ok = time.Unix(0, from), true
		}
	}
	return since, ok
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

// Add records one request of role's version that finished at finished in
// every running run that had begun by then. For samples from several
// sources (router replicas), each with its own cursor kept by the caller.
func (s *State) Add(role Role, finished time.Time, status int, latency time.Duration) {
	for _, r := range []*Run{s.Background, s.Step} {
		if r.Running() && !finished.Before(r.view.StartedAt) {
			r.window.Add(role.Version, role.Revision, status, latency)
		}
	}
}

// AddNext is Add for one source read in order (one router): each run
// counts a sample only if it is newer than the newest it counted of that
// version, so reading from Since on again counts none twice, also across
// a restart (the cursor is part of the evidence).
func (s *State) AddNext(role Role, finished time.Time, status int, latency time.Duration) {
	ns := finished.UnixNano()
	for _, r := range []*Run{s.Background, s.Step} {
		if !r.Running() || ns < r.view.StartedAt.UnixNano() {
			continue
		}
		if c, seen := r.cursor[role.Version]; !seen || ns > c {
			r.window.Add(role.Version, role.Revision, status, latency)
			r.cursor[role.Version] = ns
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
