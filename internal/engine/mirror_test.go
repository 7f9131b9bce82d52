package engine

import (
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const mirrorYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  strategy:
    canary:
      mirror: %MIRROR%
      steps:
        - setMirror: {name: reads, percentage: 50, match: [{method: {exact: GET}}]}
        - pause: {duration: 10s}
        - setMirror: {name: search, percentage: 100, match: [{path: {prefix: /search}}]}
        - setMirror: {name: reads, percentage: 20}
        - pause: {duration: 10s}
        - setMirror: {name: reads}
        - setWeight: 10
        - pause: {}
`

// The engine records the mirror routes in force in the status and routes
// them, from the moment the canary is ready, changed and removed by name;
// the strategy's mirror is routed for the whole release; a release's end
// takes every mirror away.
func TestMirrorSteps(t *testing.T) {
	for _, strategyWide := range []bool{false, true} {
		mirror := "null"
		if strategyWide {
			mirror = "{percentage: 1, maxConcurrency: 4}"
		}
		s := newSim(t, load(t, mirrorYAML, "%MIRROR%", mirror))
		names := func() []string {
			var out []string
			for _, m := range s.st.Mirrors {
				out = append(out, m.Name+" "+m.Percentage.String())
			}
			return out
		}
		s.must(start("v2"))
		if s.routed.Mirror != nil {
			t.Fatalf("mirror routed before the canary is ready: %+v", s.routed)
		}
		rows := []struct {
			do    func()
			step  int
			want  []string
			label string
		}{
			{func() { s.tick(time.Second) }, 1, []string{"reads 50%"}, "ready"},
			{func() { s.tick(10 * time.Second) }, 4, []string{"reads 20%", "search 100%"}, "changed and added"},
			{func() { s.tick(10 * time.Second) }, 7, []string{"search 100%"}, "removed"},
		}
		for _, row := range rows {
			row.do()
			if s.st.StepIndex != row.step || !equal(names(), row.want) {
				t.Fatalf("%s: step %d mirrors %v, want step %d %v", row.label, s.st.StepIndex, names(), row.step, row.want)
			}
			if s.routed.Mirror == nil || len(s.routed.MirrorRoutes) != len(row.want) || s.routed.MirrorRoutes[0].Name != s.st.Mirrors[0].Name {
				t.Fatalf("%s: routed %+v", row.label, s.routed)
			}
			if strategyWide && (s.routed.Mirror.Percentage != 10000 || s.routed.Mirror.MaxConcurrency != 4) {
				t.Fatalf("%s: strategy mirror %+v", row.label, s.routed.Mirror)
			}
		}
		s.must(Command{Kind: CmdAbort})
		if s.st.Mirrors != nil || s.routed.Mirror != nil || s.routed.MirrorRoutes != nil {
			t.Fatalf("after abort: status %v routed %+v", s.st.Mirrors, s.routed)
		}
	}
}

// A strategy-wide mirror starts when the canary is ready, also when the
// first step waits.
func TestStrategyMirrorStartsWithTheCanary(t *testing.T) {
	r := load(t, canaryYAML)
	r.Spec.Strategy.Canary.Steps = []v1alpha1.Step{{Pause: &v1alpha1.Pause{}}}
	r.Spec.Strategy.Canary.Mirror = &v1alpha1.Mirror{Percentage: 500000}
	s := newSim(t, r)
	s.must(start("v2"))
	s.tick(time.Second)
	if s.st.Phase != v1alpha1.PhasePaused || s.routed.Mirror == nil || s.routed.Mirror.Percentage != 500000 || s.routed.CanaryRevision != "v2" {
		t.Fatalf("phase %s routed %+v", s.st.Phase, s.routed)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
