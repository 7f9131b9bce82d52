package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReleaseEndToEnd drives a whole release through the CLI against a real
// `kanaria up`: start, verify the split, promote, undo, start again, abort.
func TestReleaseEndToEnd(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 10
        - pause: {}
        - setWeight: 50
        - pause: {duration: 300ms}`))
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })

	if out, err := e.kanaria("promote"); err == nil || !strings.Contains(out, "no release in progress") {
		t.Errorf("promote with no release: err %v, output:\n%s", err, out)
	}
	out := e.must("start", "v2")
	if !strings.Contains(out, "kanaria status -w") {
		t.Errorf("start does not say where to watch:\n%s", out)
	}
	// Commands are idempotent: the same start again changes nothing, exit 0.
	if out := e.must("start", "v2"); !strings.Contains(out, "nothing to do") {
		t.Errorf("second start v2 did not say it changed nothing:\n%s", out)
	}
	e.waitFor("paused at 10%", func(s status) bool {
		return s.Status.Phase == "Paused" && s.Status.Weights.CanaryPPM == 100_000
	})
	if resp, _ := e.get("X-Kanaria-Override", "canary"); resp.Header.Get("X-Kanaria-Version") != "v2" {
		t.Errorf("override to canary served %q, want v2", resp.Header.Get("X-Kanaria-Version"))
	}

	// verify takes the router, the revisions and the weight from the control plane.
	out = e.must("verify", "--requests", "2000")
	t.Logf("verify: %s", lastLine(out))
	if !strings.Contains(lastLine(out), "canary v2") || !strings.Contains(lastLine(out), "expected 10.00%") {
		t.Errorf("verify did not check v2 against the 10%% weight: %s", lastLine(out))
	}
	if out, err := e.kanaria("verify", "--url", "http://"+e.router+"/", "--requests", "1000", "--expect-canary", "50",
		"--canary-revision", "v2", "--stable-revision", "v1"); err == nil {
		t.Errorf("verify expecting 50%% at a 10%% weight passed:\n%s", out)
	}

	e.must("promote")
	e.waitFor("v2 stable", func(s status) bool {
		return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" && e.serves("v2")
	})

	e.must("undo")
	e.waitFor("v1 stable again", func(s status) bool { return s.Status.StableRevision == "v1" && e.serves("v1") })

	e.must("start", "v3")
	e.waitFor("v3 at 10%", func(s status) bool { return s.Status.Weights.CanaryPPM == 100_000 })
	e.must("abort")
	s := e.waitFor("aborted", func(s status) bool { return s.Status.Phase == "Aborted" })
	if s.Status.Weights.CanaryPPM != 0 {
		t.Errorf("aborted with canary weight %d ppm", s.Status.Weights.CanaryPPM)
	}
	for i := 0; i < 50; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v1" {
			t.Fatalf("after abort request %d served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}

	var events []struct{ Type string }
	if err := json.Unmarshal([]byte(e.must("history", "-o", "json")), &events); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	for _, want := range []string{"Started", "Promoted", "Aborted"} {
		if !strings.Contains(strings.Join(types, ","), want) {
			t.Errorf("history lacks %s: %v", want, types)
		}
	}
}

// TestAPIRefusesWithoutToken checks every mutation (and read) of the real
// control plane needs the token `up` wrote, and the token file is 0600.
func TestAPIRefusesWithoutToken(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 10`))
	e.startUp()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/rollouts"},
		{"POST", "/v1/rollouts/web/start"},
		{"POST", "/v1/rollouts/web/abort"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+e.api+tc.path, strings.NewReader(`{"revision":"v2"}`))
		req.Header.Set("Authorization", "Bearer wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d, want 401", tc.method, tc.path, resp.StatusCode)
		}
	}
	if s := e.status(); s.Status.Phase != "Healthy" || s.Status.CanaryRevision != "" {
		t.Errorf("an unauthenticated start changed the rollout: %+v", s)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "state", "token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestBadSpecRefusedWithPosition: `up` and `lint` name file, line and field.
func TestBadSpecRefusedWithPosition(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 10
        - setWeight: 120`))
	for _, args := range [][]string{{"lint", "-f", e.specFile}, {"up", "-f", e.specFile, "--listen", e.router, "--api", e.api}} {
		out, err := e.kanaria(args...)
		if err == nil {
			t.Fatalf("kanaria %s accepted a 120%% weight:\n%s", args[0], out)
		}
		if !strings.Contains(out, "kanaria.yaml:18") || !strings.Contains(out, "steps[1].setWeight") {
			t.Errorf("kanaria %s error lacks file:line and field path:\n%s", args[0], out)
		}
	}
	e.stopUp(syscall.SIGTERM)
}

func (e *env) serves(revision string) bool {
	resp, _ := e.get()
	return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Kanaria-Version") == revision
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
