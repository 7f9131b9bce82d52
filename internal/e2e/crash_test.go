package e2e

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
)

type event struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

func (e *env) history() []event {
	e.t.Helper()
	var evs []event
	if err := json.Unmarshal([]byte(e.must("history", "-o", "json")), &evs); err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// TestKill9ResumesRelease kill -9s the control plane at several steps of a
// release; each restart must resume at the same step with the same weights,
// with every event recorded before the kill still there.
func TestKill9ResumesRelease(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 1
        - pause: {}
        - setWeight: 10
        - pause: {}
        - setWeight: 20
        - pause: {duration: 2s}
        - setWeight: 50
        - pause: {}`))
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })
	e.must("start", "v2")

	checkpoints := []struct {
		name      string
		canaryPPM uint32
		step      int
		next      func()
	}{
		{"paused at 1%", 10_000, 1, func() { e.must("promote") }},
		{"paused at 10%", 100_000, 3, func() { e.must("promote") }},
		{"paused at 50% after a timed pause", 500_000, 7, nil},
	}
	for _, cp := range checkpoints {
		before := e.waitFor(cp.name, func(s status) bool {
			return s.Status.Phase == "Paused" && s.Status.StepIndex == cp.step && s.Status.Weights.CanaryPPM == cp.canaryPPM
		})
		events := e.history()
		e.stopUp(syscall.SIGKILL)
		// The control plane is gone; the data plane keeps serving its last
		// table, canary included.
		versions := map[string]int{}
		for i := 0; i < 200; i++ {
			resp, _ := e.get()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: request %d with the control plane down: %d", cp.name, i, resp.StatusCode)
			}
			versions[resp.Header.Get("X-Kanaria-Version")]++
		}
		if versions["v2"] == 0 && cp.canaryPPM >= 100_000 {
			t.Errorf("%s: with the control plane down no request reached the canary: %v", cp.name, versions)
		}
		e.startUp()
		after := e.status()
		if after.Status.Phase != before.Status.Phase || after.Status.StepIndex != before.Status.StepIndex ||
			after.Status.Weights != before.Status.Weights || after.Status.CanaryRevision != "v2" {
			t.Fatalf("%s: after kill -9 the release is at %+v, want %+v", cp.name, after.Status, before.Status)
		}
		got := e.history()
		if len(got) < len(events) {
			t.Fatalf("%s: %d events before kill -9, %d after", cp.name, len(events), len(got))
		}
		for i := range events {
			if got[i] != events[i] {
				t.Fatalf("%s: event %d was %+v before kill -9, %+v after", cp.name, i, events[i], got[i])
			}
		}
		// The canary runs again and takes traffic.
		e.waitFor("canary serving after restart", func(status) bool {
			resp, _ := e.get("X-Kanaria-Override", "canary")
			return resp.Header.Get("X-Kanaria-Version") == "v2"
		})
		if cp.next != nil {
			cp.next()
		}
	}

	// A kill in the middle of a timed pause: the release still moves on.
	e.must("promote", "--full")
	e.waitFor("v2 promoted", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })
	e.stopUp(syscall.SIGKILL)
	e.startUp()
	e.waitFor("v2 serving after restart", func(s status) bool { return s.Status.StableRevision == "v2" && e.serves("v2") })
}

// TestKill9DuringTimedPause: killed while a timed pause runs, the restarted
// control plane finishes the pause and moves on.
func TestKill9DuringTimedPause(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 5
        - pause: {duration: 2s}
        - setWeight: 30
        - pause: {}`))
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" })
	e.must("start", "v2")
	e.waitFor("in the timed pause", func(s status) bool { return s.Status.StepIndex == 1 && s.Status.Weights.CanaryPPM == 50_000 })
	e.stopUp(syscall.SIGKILL)
	e.startUp()
	e.waitFor("past the timed pause at 30%", func(s status) bool {
		return s.Status.Phase == "Paused" && s.Status.StepIndex == 3 && s.Status.Weights.CanaryPPM == 300_000
	})
}
