package cli

import (
	"testing"
	"time"
)

// The demo's v2 must pass its analysis step, not end Inconclusive: the step
// ends once it has seen its minSamples canary requests, and the metrics need
// their minSamples of each version. The baseline gets the canary's weight,
// so it has about as many requests as the canary; waiting for twice the
// metrics' minimum makes "the baseline has fewer than half the canary's
// requests" the only way to miss it (for 200 canary requests that is more
// than 7 standard deviations away). With the step's minimum equal to the
// metrics', v2 ended Inconclusive in about half the runs.
func TestDemoAnalysisStepWaitsForBothVersions(t *testing.T) {
	rs, err := demoRollouts(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sp := rs[0].Spec
	found := false
	for i, st := range sp.Strategy.Canary.Steps {
		if st.Analysis == nil {
			continue
		}
		found = true
		for _, m := range sp.Resolve(st.Analysis.Metrics) {
			if st.Analysis.MinSamples < 2*m.MinSamples {
				t.Errorf("step %d waits for %d canary requests; metric %s needs %d of each version: want at least %d",
					i, st.Analysis.MinSamples, m.Name, m.MinSamples, 2*m.MinSamples)
			}
		}
	}
	if !found || !sp.Strategy.Canary.Baseline {
		t.Fatal("the demo has no analysis step against a baseline")
	}
}
