package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// durableSpec holds its analysis step open for minutes (the test moves on
// with promote), so a kill -9 lands in the middle of it.
var durableSpec = strings.Replace(analysisSpec, "- analysis: {duration: 2s, minSamples: 100}", "- analysis: {duration: 10m, minSamples: 100}", 1)

// runOf is the analysis of kind in `kanaria analysis -o json`, if any.
func (e *env) runOf(kind string) (analysisRun, bool) {
	for _, r := range e.analysisRuns() {
		if r.Kind == kind {
			return r, true
		}
	}
	return analysisRun{}, false
}

// TestAnalysisSurvivesKill9: `kanaria up` killed with SIGKILL in the middle
// of an analysis step; the restarted control plane goes on with the
// evidence it had (requests counted, looks taken, the same start), not
// from zero.
func TestAnalysisSurvivesKill9(t *testing.T) {
	if strings.Contains(durableSpec, "duration: 2s") {
		t.Fatal("the spec's analysis step was not lengthened")
	}
	e := newEnv(t, durableSpec)
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })
	stop := e.load(20000)
	defer stop()
	e.must("start", "v2")
	e.waitFor("at the analysis step", func(s status) bool { return s.Status.StepIndex == 1 && s.Status.Phase == "Progressing" })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, ok := e.runOf("step"); ok && r.CanaryRequests >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the analysis step never saw 300 canary requests: %+v", e.analysisRuns())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	// With the load stopped the counts stand still; one checkpoint later
	// they are on disk (and anything newer is still in the router's ring).
	time.Sleep(1500 * time.Millisecond)
	before, _ := e.runOf("step")
	bgBefore, _ := e.runOf("background")
	e.stopUp(syscall.SIGKILL)

	e.startUp()
	var after, bgAfter analysisRun
	deadline = time.Now().Add(30 * time.Second)
	for {
		var ok1, ok2 bool
		after, ok1 = e.runOf("step")
		bgAfter, ok2 = e.runOf("background")
		if ok1 && ok2 && after.Looks > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no analysis runs after the restart: %+v", e.analysisRuns())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("before the kill: step %d canary requests, %d looks; background %d; after the restart: step %d, %d looks; background %d",
		before.CanaryRequests, before.Looks, bgBefore.CanaryRequests, after.CanaryRequests, after.Looks, bgAfter.CanaryRequests)
	if !after.Running || after.CanaryRequests < before.CanaryRequests || after.Looks <= before.Looks || !after.StartedAt.Equal(before.StartedAt) {
		t.Fatalf("the analysis step did not go on with its evidence:\nbefore %+v\nafter  %+v", before, after)
	}
	if bgAfter.CanaryRequests < bgBefore.CanaryRequests || !bgAfter.StartedAt.Equal(bgBefore.StartedAt) {
		t.Fatalf("the background analysis did not go on with its evidence:\nbefore %+v\nafter  %+v", bgBefore, bgAfter)
	}
	if m := after.Report.Metrics[0]; m.Name != "errors" || m.CanaryCount < before.CanaryRequests {
		t.Fatalf("the judge did not see the evidence from before the kill: %+v", m)
	}
	// More traffic adds to it.
	stop = e.load(2000)
	defer stop()
	deadline = time.Now().Add(60 * time.Second)
	for {
		if r, _ := e.runOf("step"); r.CanaryRequests >= before.CanaryRequests+100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new requests counted after the restart: %+v", e.analysisRuns())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	e.must("promote")
	e.waitFor("past the analysis step", func(s status) bool { return s.Status.StepIndex == 3 && s.Status.Phase == "Paused" })
}
