package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// TestRandomSequences drives every strategy with random commands,
// observations and clock jumps (fixed seeds) and checks the safety rules
// after every call: weights never exceed 100 %, traffic never names a copy
// that is not running (checked as actions are carried out), the stable
// revision always runs, a release's canary runs, and a refused command
// changes nothing.
func TestRandomSequences(t *testing.T) {
	specs := map[string]v1alpha1.Rollout{
		"canary":          load(t, canaryYAML),
		"canary+baseline": load(t, canaryYAML, "%BASELINE%", "true"),
		"bluegreen":       load(t, blueGreenYAML),
		"bluegreen auto":  load(t, blueGreenYAML, "%AUTO%", "true"),
	}
	revs := []string{"v1", "v2", "v3"}
	for name, r := range specs {
		for seed := uint64(1); seed <= 200; seed++ {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				s := newSim(t, r)
				for i := 0; i < 150; i++ {
					gen := s.st.Generation
					switch k := rng.IntN(12); {
					case k < 4:
						s.randomObservations(rng, revs)
						calls := s.reconciles
						s.tick(time.Duration(rng.IntN(15000)) * time.Millisecond)
						if s.st.Generation > gen+int64(s.reconciles-calls) {
							t.Fatalf("reconcile bumped generation by %d", s.st.Generation-gen)
						}
					default:
						cmd := randomCommand(rng, revs)
						calls := s.reconciles
						if err := s.apply(cmd); err == nil && s.st.Generation != gen+1+int64(s.reconciles-calls) {
							t.Fatalf("%s applied without a single generation bump", cmd.Kind)
						}
					}
					s.checkStatus()
				}
			})
		}
	}
}

func (s *sim) randomObservations(rng *rand.Rand, revs []string) {
	for _, rev := range revs {
		for _, b := range []bool{false, true} {
			k := VersionKey(rev, b)
			s.notReady[k] = rng.IntN(4) == 0
			if rng.IntN(20) == 0 {
				s.failed[k] = "crashed"
			} else {
				delete(s.failed, k)
			}
		}
	}
}

func randomCommand(rng *rand.Rand, revs []string) Command {
	kinds := []CommandKind{CmdStart, CmdStart, CmdPromote, CmdPromote, CmdPause, CmdResume, CmdAbort, CmdStop, CmdUndo}
	return Command{Kind: kinds[rng.IntN(len(kinds))], Revision: revs[rng.IntN(len(revs))], Full: rng.IntN(4) == 0}
}

func (s *sim) checkStatus() {
	s.t.Helper()
	st := s.st
	if st.Weights.CanaryPPM+st.Weights.BaselinePPM > v1alpha1.PPM {
		s.t.Fatalf("status weights above 100%%: %+v", st.Weights)
	}
	if !s.running[st.StableRevision] {
		s.t.Fatalf("stable %s not running: %v %+v", st.StableRevision, s.running, st)
	}
	if inRelease(st) != (st.CanaryRevision != "") {
		s.t.Fatalf("phase %s with canary %q", st.Phase, st.CanaryRevision)
	}
	if inRelease(st) && !s.running[st.CanaryRevision] {
		s.t.Fatalf("canary %s not running", st.CanaryRevision)
	}
	if !inRelease(st) && (st.Weights != v1alpha1.Weights{} || st.Baseline) {
		s.t.Fatalf("no release but weights %+v baseline %v", st.Weights, st.Baseline)
	}
	if st.CanaryRevision != "" && st.CanaryRevision == st.StableRevision {
		s.t.Fatalf("canary equals stable: %+v", st)
	}
	if !st.ScaleDownAt.IsZero() && !s.running[st.PreviousRevision] {
		s.t.Fatalf("previous %s should be warm", st.PreviousRevision)
	}
	// Nothing runs that the status does not account for.
	for k := range s.running {
		if k != st.StableRevision && k != st.CanaryRevision && k != VersionKey(st.StableRevision, st.Baseline) &&
			!(k == st.PreviousRevision && !st.ScaleDownAt.IsZero()) {
			s.t.Fatalf("%s runs but is neither stable, canary, baseline nor warm previous: %+v", k, st)
		}
	}
}
