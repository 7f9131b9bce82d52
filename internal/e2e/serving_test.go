package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/wire"
)

func (s status) ready() (status, reason, message string) {
	for _, c := range s.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "", ""
}

// TestStableThatCannotRunIsDegraded: a stable revision whose command does
// not exist, or whose readiness probe never answers, is phase Degraded with
// a Ready condition saying why, in status, in the history and to the
// notification receivers, and is started again with backoff. Requests get
// no answer from it meanwhile (404: nothing to route to).
func TestStableThatCannotRunIsDegraded(t *testing.T) {
	for _, c := range []struct {
		name, platform, why string
	}{
		{"command not found", `      command: "kanaria-no-such-command --port {{.Port}}"`, "executable file not found"},
		{"readiness never answers", `      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}"
      readiness: {path: /never, interval: 100ms, timeout: 1s}`, "not ready within 1s (last probe: GET /never answered 404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t)
			e := newEnv(t, `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
`+c.platform+`
      gracePeriod: 1s
  strategy:
    canary:
      steps:
        - setWeight: 10
  notifications:
    receivers:
      - name: ops
        webhook: {url: "`+rc.srv.URL+`"}
`)
			e.startUp()
			s := e.waitFor("Degraded", func(s status) bool { return s.Status.Phase == "Degraded" })
			st, reason, msg := s.ready()
			if st != "False" || reason != "StableNotServing" || !strings.Contains(msg, c.why) {
				t.Fatalf("Ready condition %s %s %q, want False StableNotServing saying %q", st, reason, msg, c.why)
			}
			if !e.historyHas("Degraded") {
				t.Errorf("history lacks Degraded: %+v", e.history())
			}
			out := e.must("status")
			if !strings.Contains(out, "Degraded") || !strings.Contains(out, "serving:") || !strings.Contains(out, c.why) {
				t.Errorf("kanaria status does not say the stable does not serve:\n%s", out)
			}
			if resp, _ := e.get(); resp.StatusCode != http.StatusNotFound {
				t.Errorf("a request to a stable that never ran: %d", resp.StatusCode)
			}
			// Started again, with backoff: 1 s, then 2 s.
			e.waitFor("two restarts", func(s status) bool { return s.Status.Phase == "Degraded" && s.Status.StableRetries >= 2 })
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) && !strings.Contains(strings.Join(rc.types(), ","), "Degraded") {
				time.Sleep(50 * time.Millisecond)
			}
			if got := strings.Join(rc.types(), ","); !strings.Contains(got, "Degraded") {
				t.Errorf("notifications %s, want Degraded", got)
			}
		})
	}
}

// TestStartOfARevisionWithoutEndpointsIsRefused: on a static platform a
// start of a revision it lists no endpoints for is a 400 up front, and
// nothing changes.
func TestStartOfARevisionWithoutEndpointsIsRefused(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("v1")) }))
	defer app.Close()
	e := newEnv(t, `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    static:
      revisions:
        v1: ["`+app.URL+`"]
  strategy:
    canary:
      steps:
        - setWeight: 10
`)
	e.startUp()
	before := e.waitFor("v1 healthy and ready", func(s status) bool {
		st, _, _ := s.ready()
		return s.Status.Phase == "Healthy" && st == "True" && e.serves("v1")
	})
	out, err := e.kanaria("start", "v3")
	if err == nil || !strings.Contains(out, `no endpoints for revision "v3"`) {
		t.Fatalf("start v3: %v\n%s", err, out)
	}
	tok, err := wire.ReadToken(filepath.Join(e.dir, "state", wire.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+e.api+"/v1/rollouts/web/start", bytes.NewReader([]byte(`{"revision":"v3"}`)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST start v3: %d, want 400", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)
	after := e.status()
	if after.Status.Generation != before.Status.Generation || after.Status.Phase != "Healthy" || e.historyHas("Started") {
		t.Errorf("a refused start changed the rollout: %+v -> %+v", before.Status, after.Status)
	}
}

// appPID finds the process of an app revision started from bin.
func appPID(t *testing.T, bin, revision string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 3 && args[0] == bin && args[1] == "demo-app" && strings.Contains(string(b), "--revision\x00"+revision+"\x00") {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	t.Fatalf("no process of %s %s", bin, revision)
	return 0
}

// TestKill9OfCanaryIsRecorded: a canary process killed by -9 is restarted
// by its supervisor and the history says so; the release stays where it
// was. A restart of the control plane then logs the step as status says it.
func TestKill9OfCanaryIsRecorded(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 10
        - pause: {}`))
	e.ownBinary()
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" })
	e.must("start", "v2")
	e.waitFor("paused at 10%", func(s status) bool { return s.Status.Phase == "Paused" && s.Status.StepIndex == 1 })
	kill9(t, appPID(t, e.bin, "v2"))
	deadline := time.Now().Add(20 * time.Second)
	for !e.historyHas("Restarted") {
		if time.Now().After(deadline) {
			t.Fatalf("no Restarted event after kill -9 of the canary: %+v\n%s", e.history(), e.up.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(e.must("history"), "killed by signal") {
		t.Errorf("the Restarted event does not say how the canary ended:\n%s", e.must("history"))
	}
	e.waitFor("the canary serving again", func(s status) bool {
		resp, _ := e.get("X-Kanaria-Override", "canary")
		return s.Status.CanaryReady && s.Status.StepIndex == 1 && resp.Header.Get("X-Kanaria-Version") == "v2"
	})
	log := e.up.log()
	if strings.Contains(log, "refused the routing table") {
		t.Errorf("up sent a routing table the router refused:\n%s", log)
	}
	e.stopUp(syscall.SIGKILL)
	e.startUp()
	if log := e.up.log(); !strings.Contains(log, "step=2/2") {
		t.Errorf("resumed log line does not say step 2/2 as status does:\n%s", log)
	}
}
