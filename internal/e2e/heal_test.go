package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/wire"
)

// ownBinary gives `up` its own copy of kanaria, so that the test can move
// it away (a new data plane then cannot start) and back.
func (e *env) ownBinary() {
	e.t.Helper()
	b, err := os.ReadFile(kanariaBin(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	e.bin = filepath.Join(e.dir, "kanaria")
	if err := os.WriteFile(e.bin, b, 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// dataPlanePID reads the running data plane's pid from the state dir.
func (e *env) dataPlanePID() int {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "state", wire.DataPlaneInfo))
	if err != nil {
		e.t.Fatal(err)
	}
	var info struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.PID == 0 {
		e.t.Fatalf("data plane info %s: %v", b, err)
	}
	return info.PID
}

// kill9 kills a process and waits until it is gone (it is not our child:
// the data plane is detached, so poll).
func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; syscall.Kill(pid, 0) == nil; i++ {
		if i > 500 {
			t.Fatalf("pid %d alive 5 s after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tryGet sends one request through the router; err when nothing answers.
func (e *env) tryGet() (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + e.router + "/")
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Kanaria-Version"), nil
}

func (e *env) historyHas(typ string) bool {
	for _, ev := range e.history() {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

// servedAgain polls the router until a request is answered 200 (at most
// 30 s, every 10 ms) and returns when.
func (e *env) servedAgain() time.Time {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, err := e.tryGet(); err == nil && code == http.StatusOK {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("users not served again within 30 s\n%s", e.up.log())
	return time.Time{}
}

// TestKill9OfDataPlaneHeals kills the data plane (router and every app with
// it) mid-release. While no new one can start, the status says the canary
// is not ready and the weights are unknown, the history says what
// happened, the timed pause does not run out and promote is refused. Once
// a data plane can start again, `up` starts one with the versions and the
// table the status needs, users are served, and the release goes on. A
// second kill -9, with nothing in the way, measures the time from the kill
// to users served again.
func TestKill9OfDataPlaneHeals(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 20
        - pause: {duration: 3s}
        - setWeight: 50
        - pause: {}`))
	e.ownBinary()
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })
	e.must("start", "v2")
	e.waitFor("in the timed pause at 20%", func(s status) bool {
		return s.Status.StepIndex == 1 && s.Status.CanaryReady && s.Status.ObservedWeights != nil && s.Status.ObservedWeights.CanaryPPM == 200_000
	})

	// No new data plane can start while the binary is away.
	away := e.bin + ".away"
	if err := os.Rename(e.bin, away); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	kill9(t, e.dataPlanePID())
	down := e.waitFor("the canary not ready, weights unknown", func(s status) bool {
		return !s.Status.CanaryReady && s.Status.ObservedWeights == nil
	})
	t.Logf("noticed within %s: %s", time.Since(killed).Round(time.Millisecond), down.Status.Message)
	if !strings.Contains(down.Status.Message, "data plane is down") || down.Status.StepIndex != 1 {
		t.Errorf("status while down: step %d, message %q", down.Status.StepIndex, down.Status.Message)
	}
	if !e.historyHas("DataPlaneLost") || !e.historyHas("NotReady") {
		t.Errorf("history while down lacks DataPlaneLost or NotReady: %+v", e.history())
	}
	if _, _, err := e.tryGet(); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a request with no data plane: %v, want connection refused", err)
	}
	if out, err := e.kanaria("promote"); err == nil || !strings.Contains(out, "data plane is down") {
		t.Errorf("promote while the data plane is down: %v\n%s", err, out)
	}
	time.Sleep(3500 * time.Millisecond) // longer than the timed pause
	if s := e.status(); s.Status.StepIndex != 1 || s.Status.Weights.CanaryPPM != 200_000 || s.Status.CanaryReady {
		t.Fatalf("the release moved while the data plane was down: %+v", s.Status)
	}
	if log := e.up.log(); strings.Count(log, "no data plane running") > 20 {
		t.Errorf("up logs the lost data plane %d times", strings.Count(log, "no data plane running"))
	}

	if err := os.Rename(away, e.bin); err != nil {
		t.Fatal(err)
	}
	e.servedAgain()
	healed := e.waitFor("the canary ready again", func(s status) bool { return s.Status.CanaryReady })
	if !e.historyHas("DataPlaneRestarted") || healed.Status.StepIndex != 1 {
		t.Errorf("after healing: step %d, history %+v", healed.Status.StepIndex, e.history())
	}
	// The pause had about 3 s left when the canary was lost: it runs out now.
	e.waitFor("paused at 50%", func(s status) bool {
		return s.Status.Phase == "Paused" && s.Status.StepIndex == 3 && s.Status.ObservedWeights != nil && s.Status.ObservedWeights.CanaryPPM == 500_000
	})
	e.waitFor("the canary serves its share", func(status) bool {
		for range 50 {
			if code, v, err := e.tryGet(); err == nil && code == 200 && v == "v2" {
				return true
			}
		}
		return false
	})

	// Measured: nothing in the way this time.
	killed = time.Now()
	kill9(t, e.dataPlanePID())
	served := e.servedAgain()
	t.Logf("kill -9 of the data plane to users served again: %s (tick 50ms)", served.Sub(killed).Round(time.Millisecond))
	e.waitFor("the canary ready again", func(s status) bool { return s.Status.CanaryReady && s.Status.Phase == "Paused" })
	e.must("promote")
	e.waitFor("v2 finished", func(s status) bool {
		return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" && e.serves("v2")
	})
	if log := e.up.log(); strings.Contains(log, "refused the routing table") || strings.Contains(log, "DATA RACE") {
		t.Errorf("up sent a routing table the router refused, or raced (KANARIA_E2E_RACE=1):\n%s", log)
	}
}
