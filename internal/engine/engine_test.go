package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// step is one row of a walk: do something, then check the status.
type step struct {
	name      string
	do        func(s *sim)
	phase     v1alpha1.Phase
	pausedBy  string
	stepIndex int
	canaryPPM v1alpha1.Weight
	stable    string
	events    []string // event types of this call, in order; nil = none
	noChange  bool     // the call must not change the status at all
	textHas   string   // substring of this call's event messages
}

func walk(t *testing.T, s *sim, rows []step) {
	t.Helper()
	for i, row := range rows {
		gen := s.st.Generation
		row.do(s)
		where := row.name
		if where == "" {
			where = "row"
		}
		if s.st.Phase != row.phase || s.st.PausedBy != row.pausedBy || s.st.StepIndex != row.stepIndex ||
			s.st.Weights.CanaryPPM != row.canaryPPM || s.st.StableRevision != row.stable {
			t.Fatalf("%d %s: got phase=%s pausedBy=%q step=%d canary=%d stable=%s (%s)", i, where,
				s.st.Phase, s.st.PausedBy, s.st.StepIndex, s.st.Weights.CanaryPPM, s.st.StableRevision, s.st.Message)
		}
		if got := s.events(); !reflect.DeepEqual(got, row.events) {
			t.Fatalf("%d %s: events %v, want %v (%s)", i, where, got, row.events, s.eventText())
		}
		if row.noChange && (s.st.Generation != gen || len(s.last) != 0) {
			t.Fatalf("%d %s: status changed (generation %d -> %d) or acted", i, where, gen, s.st.Generation)
		}
		if !row.noChange && s.st.Generation <= gen {
			t.Fatalf("%d %s: generation %d -> %d, want a bump", i, where, gen, s.st.Generation)
		}
		if !strings.Contains(s.eventText(), row.textHas) {
			t.Fatalf("%d %s: events %q lack %q", i, where, s.eventText(), row.textHas)
		}
	}
}

func tick(d time.Duration) func(*sim) { return func(s *sim) { s.tick(d) } }
func do(c Command) func(*sim)         { return func(s *sim) { s.must(c) } }

func TestCanaryReleaseWalk(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	walk(t, s, []step{
		{name: "start", do: do(start("v2")), phase: v1alpha1.PhaseProgressing, stable: "v1", events: []string{EventStarted}},
		{name: "not ready yet", do: func(s *sim) { s.notReady["v2"] = true; s.tick(time.Second) }, phase: v1alpha1.PhaseProgressing, stable: "v1", noChange: true},
		{name: "ready: 0.1% then timed pause", do: func(s *sim) { delete(s.notReady, "v2"); s.tick(time.Second) }, phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1",
			events: []string{EventReady, EventStepReached, EventStepReached}, textHas: "step 1/8: setWeight 0.1%"},
		{name: "pause not elapsed", do: tick(9 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "pause elapsed: 1%", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 3, canaryPPM: 10000, stable: "v1",
			events: []string{EventStepReached, EventStepReached}, textHas: "step 4/8: pause 10s"},
		{name: "10% then pause for promote", do: tick(10 * time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 5, canaryPPM: 100000, stable: "v1",
			events: []string{EventStepReached, EventStepReached, EventPaused}, textHas: "step 6/8: pause (until promote)"},
		{name: "an hour waits", do: tick(time.Hour), phase: v1alpha1.PhasePaused, pausedBy: PausedByStep, stepIndex: 5, canaryPPM: 100000, stable: "v1", noChange: true},
		{name: "promote: 50%", do: do(promote), phase: v1alpha1.PhaseProgressing, stepIndex: 7, canaryPPM: 500000, stable: "v1",
			events: []string{EventPromoted, EventStepReached, EventStepReached}, textHas: "promoted past step 6/8"},
		{name: "finished", do: tick(10 * time.Second), phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v2", events: []string{EventFinished}, textHas: "v1 kept warm"},
		{name: "previous still warm, weights read back", do: tick(29 * time.Second), phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v2"},
		{name: "scaled down", do: tick(time.Second), phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v2", events: []string{EventScaledDown}},
	})
	if s.running["v1"] || !s.running["v2"] || s.st.PreviousRevision != "v1" || s.st.CanaryRevision != "" {
		t.Fatalf("after release: running %v, status %+v", s.running, s.st)
	}
}

// The final traffic switch names the new revision as stable and comes
// before the old one is stopped.
func TestPromotionSwitchesBeforeStopping(t *testing.T) {
	s := newSim(t, load(t, canaryYAML, "%BASELINE%", "true"))
	s.must(start("v2"))
	s.tick(time.Second)
	s.must(full)
	if len(s.last) < 2 || s.last[1].Kind != ActSetTraffic || s.last[1].Traffic.StableRevision != "v2" || s.last[1].Traffic.CanaryRevision != "" {
		t.Fatalf("actions %+v", s.last)
	}
	if s.last[2].Kind != ActStopVersion || !s.last[2].Baseline {
		t.Fatalf("baseline not stopped after the switch: %+v", s.last)
	}
}

func TestPauseResumeKeepsRemainingTime(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second) // ready: step 2 (pause 10s) starts now
	walk(t, s, []step{
		{do: tick(4 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{do: do(pause), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: 1000, stable: "v1", events: []string{EventPaused}},
		{name: "frozen", do: tick(time.Hour), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{do: do(resume), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", events: []string{EventResumed}},
		{name: "5s of 6s left", do: tick(5 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, canaryPPM: 1000, stable: "v1", noChange: true},
		{name: "6s done", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 3, canaryPPM: 10000, stable: "v1", events: []string{EventStepReached, EventStepReached}},
	})
}

func TestPromote(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *sim)
		cmd   Command
		phase v1alpha1.Phase
		step  int
		ppm   v1alpha1.Weight
		stab  string
	}{
		{"skips a timed pause", func(s *sim) { s.tick(time.Second) }, promote, v1alpha1.PhaseProgressing, 3, 10000, "v1"},
		{"ends a user pause and moves on", func(s *sim) { s.tick(time.Second); s.must(pause) }, promote, v1alpha1.PhaseProgressing, 3, 10000, "v1"},
		{"full goes straight to stable", func(s *sim) { s.tick(time.Second) }, full, v1alpha1.PhaseHealthy, 8, 0, "v2"},
		{"full while paused by a step", func(s *sim) { s.tick(time.Second); s.tick(10 * time.Second); s.tick(10 * time.Second) }, full, v1alpha1.PhaseHealthy, 8, 0, "v2"},
		{"full before ready waits for readiness", func(s *sim) { s.notReady["v2"] = true }, full, v1alpha1.PhaseProgressing, 0, 0, "v1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, load(t, canaryYAML))
			s.must(start("v2"))
			c.setup(s)
			s.must(c.cmd)
			if s.st.Phase != c.phase || s.st.StepIndex != c.step || s.st.Weights.CanaryPPM != c.ppm || s.st.StableRevision != c.stab {
				t.Fatalf("got %s step %d ppm %d stable %s", s.st.Phase, s.st.StepIndex, s.st.Weights.CanaryPPM, s.st.StableRevision)
			}
		})
	}
	// A pending full promotion completes when the canary becomes ready.
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.notReady["v2"] = true
	s.must(full)
	s.tick(time.Second)
	delete(s.notReady, "v2")
	s.tick(time.Second)
	if s.st.Phase != v1alpha1.PhaseHealthy || s.st.StableRevision != "v2" {
		t.Fatalf("full promotion did not complete on readiness: %+v", s.st)
	}
}

// index finds the first action matching pred, -1 if none.
func index(acts []Action, pred func(Action) bool) int {
	for i, a := range acts {
		if pred(a) {
			return i
		}
	}
	return -1
}

func TestAbortSetsTrafficBeforeStopping(t *testing.T) {
	for _, cmd := range []Command{abort, stop, undo} {
		t.Run(string(cmd.Kind), func(t *testing.T) {
			s := newSim(t, load(t, canaryYAML, "%BASELINE%", "true"))
			s.must(start("v2"))
			s.tick(time.Second)
			s.tick(10 * time.Second)
			if s.st.Weights != (v1alpha1.Weights{CanaryPPM: 10000, BaselinePPM: 10000}) {
				t.Fatalf("weights before abort %+v", s.st.Weights)
			}
			s.must(cmd)
			traffic := index(s.last, func(a Action) bool { return a.Kind == ActSetTraffic })
			stopCanary := index(s.last, func(a Action) bool { return a.Kind == ActStopVersion && a.Revision == "v2" })
			stopBaseline := index(s.last, func(a Action) bool { return a.Kind == ActStopVersion && a.Baseline })
			if traffic < 0 || stopCanary < traffic || stopBaseline < traffic {
				t.Fatalf("order: traffic %d, stop canary %d, stop baseline %d: %+v", traffic, stopCanary, stopBaseline, s.last)
			}
			tr := s.last[traffic].Traffic
			if tr.Weights != (v1alpha1.Weights{}) || tr.CanaryRevision != "" || tr.BaselineRevision != "" || tr.StableRevision != "v1" {
				t.Fatalf("abort traffic %+v", tr)
			}
			want := map[CommandKind]v1alpha1.Phase{CmdAbort: v1alpha1.PhaseAborted, CmdStop: v1alpha1.PhaseHealthy, CmdUndo: v1alpha1.PhaseAborted}[cmd.Kind]
			if s.st.Phase != want || s.st.CanaryRevision != "" || s.running["v2"] || s.running["v1+baseline"] {
				t.Fatalf("after %s: %+v running %v", cmd.Kind, s.st, s.running)
			}
		})
	}
}

func TestFailedCanaryAborts(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *sim)
		key   string
		want  string
	}{
		{"crash while progressing", func(s *sim) { s.tick(time.Second) }, "v2", "canary v2 failed: exited 3 times"},
		{"never ready", func(s *sim) { s.notReady["v2"] = true; s.tick(time.Second) }, "v2", "before it was ready: canary v2 failed"},
		{"crash while paused by user", func(s *sim) { s.tick(time.Second); s.must(pause) }, "v2", "at step 2/8: canary v2 failed"},
		{"baseline crash", func(s *sim) { s.tick(time.Second) }, "v1+baseline", "baseline copy of v1 failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, load(t, canaryYAML, "%BASELINE%", "true"))
			s.must(start("v2"))
			c.setup(s)
			s.failed[c.key] = "exited 3 times"
			s.tick(time.Second)
			if s.st.Phase != v1alpha1.PhaseAborted || s.st.Weights != (v1alpha1.Weights{}) || !reflect.DeepEqual(s.events(), []string{EventAborted}) || !strings.Contains(s.eventText(), c.want) {
				t.Fatalf("got %s %+v events %v %q", s.st.Phase, s.st.Weights, s.events(), s.eventText())
			}
		})
	}
}

func TestBaselineWeights(t *testing.T) {
	cases := []struct {
		weight         string
		canary, basePM v1alpha1.Weight
	}{{"0.1", 1000, 1000}, {"10", 100000, 100000}, {"50", 500000, 500000}, {"60", 600000, 400000}, {"100", 1000000, 0}}
	for _, c := range cases {
		t.Run(c.weight, func(t *testing.T) {
			r := load(t, canaryYAML, "%BASELINE%", "true", "setWeight: 0.1", "setWeight: "+c.weight)
			s := newSim(t, r)
			s.must(start("v2"))
			s.tick(time.Second)
			if s.st.Weights != (v1alpha1.Weights{CanaryPPM: c.canary, BaselinePPM: c.basePM}) {
				t.Fatalf("got %+v", s.st.Weights)
			}
			tr := s.last[index(s.last, func(a Action) bool { return a.Kind == ActSetTraffic })].Traffic
			if tr.BaselineRevision != "v1" || tr.CanaryRevision != "v2" {
				t.Fatalf("traffic %+v", tr)
			}
		})
	}
}

func TestBlueGreen(t *testing.T) {
	t.Run("manual", func(t *testing.T) {
		s := newSim(t, load(t, blueGreenYAML))
		walk(t, s, []step{
			{do: do(start("v2")), phase: v1alpha1.PhaseProgressing, stable: "v1", events: []string{EventStarted}},
			{name: "green ready waits", do: tick(time.Second), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: 1, stable: "v1", events: []string{EventReady, EventPaused}, textHas: "override header"},
			{do: tick(time.Hour), phase: v1alpha1.PhasePaused, pausedBy: PausedByPromotion, stepIndex: 1, stable: "v1", noChange: true},
			{name: "switch", do: do(promote), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventPromoted, EventFinished}},
			{name: "instant undo", do: do(undo), phase: v1alpha1.PhaseHealthy, stable: "v1", events: []string{EventUndone}},
			{name: "v2 kept warm 20s", do: tick(20 * time.Second), phase: v1alpha1.PhaseHealthy, stable: "v1", events: []string{EventScaledDown}},
		})
		if s.running["v2"] || !s.running["v1"] {
			t.Fatalf("running %v", s.running)
		}
	})
	t.Run("auto after delay", func(t *testing.T) {
		s := newSim(t, load(t, blueGreenYAML, "%AUTO%", "true"))
		s.must(start("v2"))
		// The green preview: traffic names green with weight 0.
		tr := s.last[index(s.last, func(a Action) bool { return a.Kind == ActSetTraffic })].Traffic
		if tr.CanaryRevision != "v2" || tr.Weights != (v1alpha1.Weights{}) {
			t.Fatalf("preview traffic %+v", tr)
		}
		walk(t, s, []step{
			{do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, stable: "v1", events: []string{EventReady}},
			{do: tick(2 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, stable: "v1", noChange: true},
			{do: do(pause), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, stable: "v1", events: []string{EventPaused}},
			{do: tick(time.Minute), phase: v1alpha1.PhasePaused, pausedBy: PausedByUser, stepIndex: 1, stable: "v1", noChange: true},
			{do: do(resume), phase: v1alpha1.PhaseProgressing, stepIndex: 1, stable: "v1", events: []string{EventResumed}},
			{name: "3s left", do: tick(2 * time.Second), phase: v1alpha1.PhaseProgressing, stepIndex: 1, stable: "v1", noChange: true},
			{do: tick(time.Second), phase: v1alpha1.PhaseHealthy, stable: "v2", events: []string{EventFinished}},
		})
		sets := 0
		for _, a := range s.last {
			if a.Kind == ActSetTraffic {
				sets++
				if a.Traffic.StableRevision != "v2" || a.Traffic.CanaryRevision != "" {
					t.Fatalf("switch %+v", a.Traffic)
				}
			}
		}
		if sets != 1 {
			t.Fatalf("switch took %d SetTraffic", sets)
		}
	})
}

func TestUndo(t *testing.T) {
	release := func(t *testing.T) *sim {
		s := newSim(t, load(t, canaryYAML))
		s.must(start("v2"))
		s.tick(time.Second)
		s.must(full)
		return s
	}
	t.Run("warm: instant, toggles", func(t *testing.T) {
		s := release(t)
		s.tick(10 * time.Second)
		s.must(undo)
		if s.st.StableRevision != "v1" || s.st.PreviousRevision != "v2" || !s.running["v2"] || s.st.Phase != v1alpha1.PhaseHealthy {
			t.Fatalf("%+v", s.st)
		}
		s.must(undo)
		if s.st.StableRevision != "v2" || s.st.PreviousRevision != "v1" {
			t.Fatalf("second undo %+v", s.st)
		}
	})
	t.Run("after scale-down: restart then switch", func(t *testing.T) {
		s := release(t)
		s.tick(30 * time.Second)
		if s.running["v1"] {
			t.Fatal("v1 not scaled down")
		}
		walk(t, s, []step{
			{do: func(s *sim) { s.notReady["v1"] = true; s.must(undo) }, phase: v1alpha1.PhaseProgressing, stable: "v2", events: []string{EventUndone}},
			{name: "waits for v1", do: tick(time.Second), phase: v1alpha1.PhaseProgressing, stable: "v2", noChange: true},
			{do: func(s *sim) { delete(s.notReady, "v1"); s.tick(time.Second) }, phase: v1alpha1.PhaseHealthy, stepIndex: 8, stable: "v1", events: []string{EventReady, EventFinished}},
		})
	})
	t.Run("a release of the warm previous revision keeps it running", func(t *testing.T) {
		s := release(t)
		s.must(start("v1"))
		s.tick(40 * time.Second)
		if !s.running["v1"] || s.st.CanaryRevision != "v1" {
			t.Fatalf("warm v1 was stopped under its own release: %v %+v", s.running, s.st)
		}
	})
}

func TestRefusals(t *testing.T) {
	healthy := func(s *sim) {}
	progressing := func(s *sim) { s.must(start("v2")); s.tick(time.Second) }
	notReady := func(s *sim) { s.notReady["v2"] = true; s.must(start("v2")) }
	pausedStep := func(s *sim) {
		progressing(s)
		s.must(full)
		s.must(start("v3"))
		s.tick(time.Second)
		s.tick(10 * time.Second)
		s.tick(10 * time.Second)
	}
	userPaused := func(s *sim) { progressing(s); s.must(pause) }
	aborted := func(s *sim) { progressing(s); s.must(abort) }
	cases := []struct {
		name  string
		setup func(*sim)
		cmd   Command
		noop  bool
		want  string
	}{
		{"start stable", healthy, start("v1"), true, "v1 is already the stable revision"},
		{"start twice", progressing, start("v2"), true, "v2 is already being released"},
		{"start another", progressing, start("v3"), false, "a release of v2 is in progress"},
		{"start bad name", healthy, start("v 2"), false, "start needs a revision"},
		{"start empty", healthy, start(""), false, "revision is empty"},
		{"promote nothing", healthy, promote, false, "no release in progress"},
		{"promote not ready", notReady, promote, false, "v2 is not ready yet"},
		{"pause nothing", healthy, pause, false, "no release in progress"},
		{"pause twice", userPaused, pause, true, "already paused"},
		{"pause at step", pausedStep, pause, true, "already paused (step 6/8"},
		{"resume running", progressing, resume, true, "not paused"},
		{"resume a step pause", pausedStep, resume, false, "run kanaria promote"},
		{"abort nothing", healthy, abort, true, "nothing to abort"},
		{"abort twice", aborted, abort, true, "already aborted"},
		{"stop nothing", healthy, stop, true, "no release in progress"},
		{"undo nothing", healthy, undo, false, "nothing to undo"},
		{"unknown", healthy, Command{Kind: "explode"}, false, `unknown command "explode"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, load(t, canaryYAML))
			c.setup(s)
			err := s.apply(c.cmd)
			if err == nil || !strings.Contains(err.Error(), c.want) || IsNoOp(err) != c.noop {
				t.Fatalf("got %v (noop %v), want %q (noop %v)", err, IsNoOp(err), c.want, c.noop)
			}
		})
	}
}

func TestStartAfterAbortAndStopClearsAborted(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.must(abort)
	s.must(stop)
	if s.st.Phase != v1alpha1.PhaseHealthy || !reflect.DeepEqual(s.events(), []string{EventStopped}) {
		t.Fatalf("%+v", s.st)
	}
	if err := s.apply(abort); !IsNoOp(err) {
		t.Fatalf("abort after stop: %v", err)
	}
	s.must(start("v2"))
	s.must(abort)
	s.must(start("v3")) // start leaves Aborted too
	if s.st.Phase != v1alpha1.PhaseProgressing || s.st.CanaryRevision != "v3" {
		t.Fatalf("%+v", s.st)
	}
}

func TestReconcileIdleIsStable(t *testing.T) {
	s := newSim(t, load(t, canaryYAML))
	s.must(start("v2"))
	s.tick(time.Second)
	before := s.st
	obs := s.obs()
	for i := 0; i < 3; i++ {
		st, acts := Reconcile(s.r, s.st, obs, s.now.Add(time.Second))
		if !reflect.DeepEqual(st, before) || acts != nil {
			t.Fatalf("idle reconcile changed the status: %+v", st)
		}
	}
	// Router weights read back are recorded once, without actions (other
	// than wanted: the release holds, saying so).
	obs.RouterWeights = &v1alpha1.Weights{CanaryPPM: 2000}
	st, acts := Reconcile(s.r, s.st, obs, s.now)
	if st.Generation != before.Generation+1 || acts != nil || *st.ObservedWeights != *obs.RouterWeights ||
		!strings.Contains(st.Message, "waiting for traffic read-back: observed 0.2%, want 0.1%") {
		t.Fatalf("observed weights: %+v %v", st, acts)
	}
	st2, acts := Reconcile(s.r, st, obs, s.now)
	if st2.Generation != st.Generation || acts != nil {
		t.Fatal("same router weights bumped the generation")
	}
}

func TestInitial(t *testing.T) {
	st, acts := Initial(load(t, canaryYAML), t0)
	if st.Phase != v1alpha1.PhaseHealthy || st.StableRevision != "v1" || st.Generation != 1 || st.Rollout != "web" {
		t.Fatalf("%+v", st)
	}
	if len(acts) != 3 || acts[0].Kind != ActEnsureVersion || acts[1].Kind != ActSetTraffic || acts[1].Traffic.StableRevision != "v1" {
		t.Fatalf("%+v", acts)
	}
}
