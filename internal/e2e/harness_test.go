// Package e2e runs the real kanaria binary: `kanaria up` as a process with
// demo-app revisions, driven through the CLI, with real HTTP over loopback.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }

// kanariaBin is the kanaria binary the tests run, built once;
// KANARIA_E2E_RACE=1 race-builds it, so a test that reads the processes'
// logs can look for the race detector's reports.
func kanariaBin(t testing.TB) string {
	t.Helper()
	if os.Getenv("KANARIA_E2E_RACE") == "1" {
		return binary.KanariaRace(t)
	}
	return binary.Kanaria(t)
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// upProcess is a running `kanaria up`.
type upProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	output bytes.Buffer
	done   chan struct{}
}

// env is one test's kanaria installation: a spec, a state dir and addresses
// kept across restarts of `up`.
type env struct {
	t        *testing.T
	dir      string
	specFile string
	router   string
	api      string
	up       *upProcess
	// bin is the kanaria binary `up` runs (and so its data plane and apps);
	// default binary.Kanaria's.
	bin string
}

func newEnv(t *testing.T, specYAML string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, specFile: filepath.Join(dir, "kanaria.yaml"), router: freeAddr(t), api: freeAddr(t)}
	if err := os.WriteFile(e.specFile, []byte(specYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stopUp(syscall.SIGTERM)
		// Whatever happened, leave no data plane behind.
		if out, err := e.kanaria("down"); err != nil {
			t.Logf("kanaria down: %v\n%s", err, out)
		}
	})
	return e
}

// startUp runs `kanaria up` and waits until it says it is ready.
func (e *env) startUp() {
	e.t.Helper()
	bin := e.bin
	if bin == "" {
		bin = kanariaBin(e.t)
	}
	cmd := exec.Command(bin, "up", "-f", e.specFile, "--listen", e.router, "--api", e.api,
		"--state-dir", filepath.Join(e.dir, "state"), "--tick", "50ms")
	cmd.Dir = e.dir
	p := &upProcess{cmd: cmd, done: make(chan struct{})}
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	pw.Close()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.output.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "kanaria up: router") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	e.up = p
	select {
	case <-ready:
	case <-p.done:
		e.t.Fatalf("kanaria up exited early:\n%s", p.log())
	case <-time.After(30 * time.Second):
		e.t.Fatalf("kanaria up not ready after 30s:\n%s", p.log())
	}
}

func (p *upProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// stopUp signals `up` and waits for it to exit.
func (e *env) stopUp(sig syscall.Signal) {
	if e.up == nil {
		return
	}
	e.up.cmd.Process.Signal(sig)
	select {
	case <-e.up.done:
	case <-time.After(30 * time.Second):
		e.up.cmd.Process.Kill()
		<-e.up.done
	}
	if e.t.Failed() {
		e.t.Logf("kanaria up output:\n%s", e.up.log())
	}
	e.up = nil
}

// kanaria runs a CLI command against this env's control plane.
func (e *env) kanaria(args ...string) (string, error) {
	e.t.Helper()
	bin := kanariaBin(e.t) // built before the command's deadline runs
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "KANARIA_STATE_DIR="+filepath.Join(e.dir, "state"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs a CLI command that must succeed.
func (e *env) must(args ...string) string {
	e.t.Helper()
	out, err := e.kanaria(args...)
	if err != nil {
		e.t.Fatalf("kanaria %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// status is the part of `kanaria status -o json` the tests read.
type status struct {
	Name   string `json:"name"`
	Status struct {
		Phase          string `json:"phase"`
		StableRevision string `json:"stableRevision"`
		CanaryRevision string `json:"canaryRevision"`
		StepIndex      int    `json:"stepIndex"`
		Generation     int64  `json:"generation"`
		Weights        struct {
			CanaryPPM   uint32 `json:"canaryPPM"`
			BaselinePPM uint32 `json:"baselinePPM"`
		} `json:"weights"`
		ObservedWeights *struct {
			CanaryPPM uint32 `json:"canaryPPM"`
		} `json:"observedWeights"`
		CanaryReady   bool   `json:"canaryReady"`
		Message       string `json:"message"`
		StableRetries int    `json:"stableRetries"`
		Conditions    []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

func (e *env) status() status {
	e.t.Helper()
	out := e.must("status", "-o", "json")
	var s status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		var list []status
		if err2 := json.Unmarshal([]byte(out), &list); err2 != nil || len(list) != 1 {
			e.t.Fatalf("status -o json: %v\n%s", err, out)
		}
		s = list[0]
	}
	return s
}

// waitFor polls the status until cond holds (bounded).
func (e *env) waitFor(what string, cond func(status) bool) status {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var s status
	for time.Now().Before(deadline) {
		s = e.status()
		if cond(s) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("timed out waiting for %s; last status %+v", what, s)
	return s
}

// get sends one request through the router.
func (e *env) get(header ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+e.router+"/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("GET through router: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.String()
}

const demoSpecTemplate = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}"
      gracePeriod: 2s
      readiness:
        path: /healthz
        interval: 100ms
  strategy:
STRATEGY
`

// specWithStrategy is the demo-app rollout "web" with the given strategy
// block (indented under strategy:).
func specWithStrategy(strategy string) string {
	return strings.Replace(demoSpecTemplate, "STRATEGY", strategy, 1)
}

// specWithSteps is a canary strategy with the given steps.
func specWithSteps(steps string) string {
	return specWithStrategy("    canary:\n      steps:\n" + steps)
}
