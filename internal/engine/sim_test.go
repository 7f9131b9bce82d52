package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

var t0 = time.Date(2025, 1, 2, 12, 0, 0, 0, time.UTC)

const canaryYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  strategy:
    canary:
      baseline: %BASELINE%
      steps:
        - setWeight: 0.1
        - pause: {duration: 10s}
        - setWeight: 1
        - pause: {duration: 10s}
        - setWeight: 10
        - pause: {}
        - setWeight: 50
        - pause: {duration: 10s}
`

const blueGreenYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  strategy:
    blueGreen: {autoPromotion: %AUTO%, autoPromotionDelay: 5s, scaleDownDelay: 20s}
`

func load(t testing.TB, src string, repl ...string) v1alpha1.Rollout {
	t.Helper()
	for i := 0; i+1 < len(repl); i += 2 {
		src = strings.ReplaceAll(src, repl[i], repl[i+1])
	}
	src = strings.ReplaceAll(src, "%BASELINE%", "false")
	src = strings.ReplaceAll(src, "%AUTO%", "false")
	rs, err := spec.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

// sim plays the executor: it keeps the status, a fake clock, and which
// version copies run, and answers Reconcile with observations in which
// every running copy is ready unless told otherwise.
type sim struct {
	t        testing.TB
	r        v1alpha1.Rollout
	st       v1alpha1.RolloutStatus
	now      time.Time
	running  map[string]bool
	notReady map[string]bool
	failed   map[string]string
	// stepVerdict and bgVerdict are what the analysis "observed"; the
	// control plane's role, played by the test.
	stepVerdict, bgVerdict *AnalysisResult
	routed                 *Traffic // the last SetTraffic carried out
	restarts               int      // RestartVersion actions carried out
	// routerWeights are read back from the router (nil: unknown); notes
	// are the edges' events for the next tick.
	routerWeights *v1alpha1.Weights
	notes         []Event
	// readBackLag is how many ticks the router takes to read back a
	// SetTraffic's weights (0: at once, as on one machine, where the
	// control plane reconciles again right after a SetTraffic);
	// noReadBack: never. lagging holds the weights on their way.
	readBackLag int
	noReadBack  bool
	lagging     *v1alpha1.Weights
	lagLeft     int
	reconciles  int      // Reconcile calls so far
	approximate bool     // observations say Approximate (whole pods)
	last        []Action // actions of the last call
	all         []Action
}

func newSim(t testing.TB, r v1alpha1.Rollout) *sim {
	s := &sim{t: t, r: r, now: t0, running: map[string]bool{}, notReady: map[string]bool{}, failed: map[string]string{}}
	st, acts := Initial(r, t0)
	s.st = st
	s.carry(acts)
	// The first observation: the stable is ready and serves (condition
	// Ready True), so that the rows of a test start from a quiet status.
	s.tick(0)
	return s
}

// carry executes actions, checking the safety rules on the way.
func (s *sim) carry(acts []Action) {
	s.t.Helper()
	s.last = acts
	s.all = append(s.all, acts...)
	for _, a := range acts {
		switch a.Kind {
		case ActEnsureVersion:
			s.running[VersionKey(a.Revision, a.Baseline)] = true
		case ActStopVersion:
			if tr := s.routed; tr != nil && servedBy(tr, a.Revision, a.Baseline) {
				s.t.Fatalf("stops %s while the router still sends it traffic: %+v", VersionKey(a.Revision, a.Baseline), tr)
			}
			delete(s.running, VersionKey(a.Revision, a.Baseline))
		case ActRestartVersion:
			if !s.running[VersionKey(a.Revision, a.Baseline)] {
				s.t.Fatalf("restarts %s, which does not run", VersionKey(a.Revision, a.Baseline))
			}
			s.restarts++
			delete(s.failed, VersionKey(a.Revision, a.Baseline))
		case ActSetTraffic:
			checkTraffic(s.t, a.Traffic, s.running)
			s.routed = a.Traffic
			w := a.Traffic.Weights
			switch {
			case s.noReadBack:
			case s.readBackLag == 0:
				s.routerWeights = &w
			default:
				s.lagging, s.lagLeft = &w, s.readBackLag
			}
		}
	}
}

// servedBy: the copy is named in the routing table (weight 0 included: the
// override header still reaches it).
func servedBy(tr *Traffic, rev string, baseline bool) bool {
	if baseline {
		return tr.BaselineRevision == rev
	}
	return tr.StableRevision == rev || tr.CanaryRevision == rev
}

func checkTraffic(t testing.TB, tr *Traffic, running map[string]bool) {
	t.Helper()
	if tr.Weights.CanaryPPM+tr.Weights.BaselinePPM > v1alpha1.PPM {
		t.Fatalf("weights above 100%%: %+v", tr.Weights)
	}
	if !running[VersionKey(tr.StableRevision, false)] {
		t.Fatalf("traffic names stable %s, which is not running", tr.StableRevision)
	}
	if tr.CanaryRevision != "" && !running[VersionKey(tr.CanaryRevision, false)] {
		t.Fatalf("traffic names canary %s, which is not running", tr.CanaryRevision)
	}
	if tr.CanaryRevision == "" && tr.Weights.CanaryPPM > 0 {
		t.Fatalf("canary weight without a canary: %+v", tr)
	}
	if tr.CanaryRevision == "" && len(tr.HeaderRoutes) > 0 {
		t.Fatalf("header routes without a canary: %+v", tr)
	}
	if tr.BaselineRevision != "" && !running[VersionKey(tr.BaselineRevision, true)] {
		t.Fatalf("traffic names baseline %s, which is not running", tr.BaselineRevision)
	}
}

func (s *sim) apply(cmd Command) error {
	s.t.Helper()
	st, acts, err := Apply(s.r, s.st, cmd, s.now)
	if err != nil {
		if st.Generation != s.st.Generation || acts != nil {
			s.t.Fatalf("refused %s changed the status or acted", cmd.Kind)
		}
		s.last = nil
		return err
	}
	s.st = st
	s.carry(acts)
	s.again()
	return nil
}

// again reconciles once more at the same time while the release waits for
// weights the router read back at once, as the control plane does on one
// machine; the actions of all calls are the last call's.
func (s *sim) again() {
	s.t.Helper()
	for i := 0; i < 20 && s.readBackLag == 0 && !s.noReadBack && WaitsForReadBack(s.st); i++ {
		all := s.last
		s.reconciles++
		st, acts := Reconcile(s.r, s.st, s.obs(), s.now)
		s.st = st
		s.carry(acts)
		s.last = append(all, acts...)
	}
}

func (s *sim) must(cmd Command) {
	s.t.Helper()
	if err := s.apply(cmd); err != nil {
		s.t.Fatalf("%s: %v", cmd.Kind, err)
	}
}

func (s *sim) obs() Observations {
	o := Observations{Versions: map[string]VersionState{}}
	for k := range s.running {
		// A copy that is not ready in the simulation serves nothing.
		o.Versions[k] = VersionState{Ready: !s.notReady[k], Unavailable: s.notReady[k]}
	}
	for k, why := range s.failed {
		o.Versions[k] = VersionState{Failed: true, Reason: why}
	}
	o.StepAnalysis, o.BackgroundAnalysis = s.stepVerdict, s.bgVerdict
	o.RouterWeights, o.Events = s.routerWeights, s.notes
	o.Approximate = s.approximate
	s.notes = nil
	return o
}

// tick advances the fake clock by d and reconciles.
func (s *sim) tick(d time.Duration) {
	s.t.Helper()
	s.now = s.now.Add(d)
	if s.lagging != nil {
		if s.lagLeft--; s.lagLeft < 0 {
			s.routerWeights, s.lagging = s.lagging, nil
		}
	}
	s.reconciles++
	st, acts := Reconcile(s.r, s.st, s.obs(), s.now)
	s.st = st
	s.carry(acts)
	s.again()
}

// events lists the event types of the last call.
func (s *sim) events() []string {
	var out []string
	for _, a := range s.last {
		if a.Kind == ActRecordEvent {
			out = append(out, a.Event.Type)
		}
	}
	return out
}

func (s *sim) eventText() string {
	var out []string
	for _, a := range s.last {
		if a.Kind == ActRecordEvent {
			out = append(out, a.Event.Message)
		}
	}
	return strings.Join(out, " | ")
}

func start(rev string) Command { return Command{Kind: CmdStart, Revision: rev} }

var (
	promote = Command{Kind: CmdPromote}
	full    = Command{Kind: CmdPromote, Full: true}
	pause   = Command{Kind: CmdPause}
	resume  = Command{Kind: CmdResume}
	abort   = Command{Kind: CmdAbort, Reason: "looks wrong"}
	stop    = Command{Kind: CmdStop}
	undo    = Command{Kind: CmdUndo}
)
