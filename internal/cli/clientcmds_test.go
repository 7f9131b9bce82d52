package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// cliEnv is a control plane (the real API server over servertest's
// backend, which moves by the real engine) and the state directory that
// points at it, as `kanaria up` would leave it.
type cliEnv struct {
	b        *servertest.Backend
	stateDir string
	url      string
}

func newCLIEnv(t *testing.T, rollouts ...string) *cliEnv {
	t.Helper()
	if len(rollouts) == 0 {
		rollouts = []string{"web"}
	}
	dir := t.TempDir()
	tok, err := wire.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rs []v1alpha1.Rollout
	for _, n := range rollouts {
		rs = append(rs, servertest.Canary(n))
	}
	b := servertest.New(wire.Info{Version: "v9.9.9-test", RouterURL: "http://127.0.0.1:8080", DashboardURL: "http://127.0.0.1:7070/ui/"}, rs...)
	ts := httptest.NewServer(server.New(b, tok, server.Options{}))
	t.Cleanup(ts.Close)
	if err := wire.WriteEndpoint(dir, ts.URL); err != nil {
		t.Fatal(err)
	}
	return &cliEnv{b: b, stateDir: dir, url: ts.URL}
}

func ptr[T any](v T) *T { return &v }

// run executes the CLI in-process against the env's state dir.
func (e *cliEnv) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return e.runCtx(context.Background(), args...)
}

func (e *cliEnv) runCtx(ctx context.Context, args ...string) (string, error) {
	root := NewRoot()
	var out, errw bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errw)
	if e != nil && len(args) > 0 && args[0] != "completion" && args[0] != "__complete" {
		args = append(args, "--state-dir", e.stateDir)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func mustRun(t *testing.T, e *cliEnv, args ...string) string {
	t.Helper()
	out, err := e.run(t, args...)
	if err != nil {
		t.Fatalf("kanaria %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func exitCodeOf(err error) int {
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return 1
}

func TestStartPrintsWhatHappenedAndWhereToWatch(t *testing.T) {
	e := newCLIEnv(t)
	out := mustRun(t, e, "start", "v2")
	for _, want := range []string{
		// Nothing is ready the moment it starts: the weight is still 0.
		"rollout web: started releasing v2 (stable v1); Progressing, step 1/3 setWeight 0.1%, canary v2 at 0%\n",
		"watch: kanaria status -w -r web\n",
		"router: http://127.0.0.1:8080\n",
		"dashboard: http://127.0.0.1:7070/ui/\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start output lacks %q:\n%s", want, out)
		}
	}
	if v, _ := e.b.Get(context.Background(), "web"); v.Status.CanaryRevision != "v2" {
		t.Fatalf("backend not started: %+v", v.Status)
	}
	// Starting the same revision again is already in effect: said, exit 0.
	if out := mustRun(t, e, "start", "v2"); !strings.HasPrefix(out, "rollout web: nothing to do: v2 is already being released") {
		t.Fatalf("second start: %s", out)
	}
	// Starting another does not apply now: said plainly, exit 3.
	_, err := e.run(t, "start", "v3")
	if err == nil || !strings.HasPrefix(err.Error(), "rollout web: a release of v2 is in progress") || exitCodeOf(err) != notAppliedExitCode {
		t.Fatalf("start during a release: %v (exit %d)", err, exitCodeOf(err))
	}
	if _, err := e.run(t, "start"); err == nil {
		t.Fatal("start without a revision accepted")
	}
}

func TestPromoteStepsThenFull(t *testing.T) {
	e := newCLIEnv(t)
	mustRun(t, e, "start", "v2")
	// Before the canary is ready no step has started: promote refuses.
	if _, err := e.run(t, "promote"); err == nil || exitCodeOf(err) != notAppliedExitCode || !strings.Contains(err.Error(), "not ready yet") {
		t.Fatalf("promote before ready: %v", err)
	}
	e.b.Tick(time.Second) // ready: setWeight 0.1 applies, then the open pause
	if out := mustRun(t, e, "status"); !strings.Contains(out, "Paused (step)") || !strings.Contains(out, "2/3 pause (until promote)") {
		t.Fatalf("status at the pause: %s", out)
	}
	out := mustRun(t, e, "promote")
	if !strings.Contains(out, "rollout web: promoted; Healthy, stable v2 serves all traffic") {
		t.Fatalf("promote past the pause (the last step is setWeight 50, then done): %s", out)
	}
	_, err := e.run(t, "promote")
	if err == nil || !strings.HasPrefix(err.Error(), "rollout web: no release in progress") {
		t.Fatalf("promote with nothing to promote: %v", err)
	}
	out = mustRun(t, e, "undo")
	if !strings.Contains(out, "rollout web: undone; Healthy, stable v1 serves all traffic") {
		t.Fatalf("undo: %s", out)
	}
	mustRun(t, e, "start", "v3")
	out = mustRun(t, e, "promote", "--full", "--reason", "looks good")
	if !strings.Contains(out, "rollout web: fully promoted; Progressing") {
		t.Fatalf("promote --full before ready: %s", out)
	}
	e.b.Tick(time.Second)
	if v, _ := e.b.Get(context.Background(), "web"); v.Status.StableRevision != "v3" || v.Status.Phase != v1alpha1.PhaseHealthy {
		t.Fatalf("--full once ready: %+v", v.Status)
	}
}

func TestPauseResumeAbortStop(t *testing.T) {
	e := newCLIEnv(t)
	mustRun(t, e, "start", "v2")
	if out := mustRun(t, e, "pause"); !strings.Contains(out, "rollout web: paused; Paused (user)") {
		t.Fatalf("pause: %s", out)
	}
	if out := mustRun(t, e, "pause"); !strings.HasPrefix(out, "rollout web: nothing to do: already paused") {
		t.Fatalf("second pause: %s", out)
	}
	if out := mustRun(t, e, "resume"); !strings.Contains(out, "rollout web: resumed; Progressing") {
		t.Fatalf("resume: %s", out)
	}
	out := mustRun(t, e, "abort", "--reason", "errors up")
	if !strings.Contains(out, "rollout web: aborted; Aborted, stable v1 serves all traffic") {
		t.Fatalf("abort: %s", out)
	}
	if v, _ := e.b.Get(context.Background(), "web"); !strings.Contains(v.Status.Message, ": errors up;") {
		t.Fatalf("--reason not sent: %q", v.Status.Message)
	}
	if out := mustRun(t, e, "stop"); !strings.Contains(out, "rollout web: stopped; Healthy, stable v1") {
		t.Fatalf("stop: %s", out)
	}
}

func TestStatusTable(t *testing.T) {
	e := newCLIEnv(t)
	mustRun(t, e, "start", "v2")
	e.b.Tick(time.Second) // ready: setWeight 0.1 applies, then the open pause
	e.b.Tick(time.Second) // the router's weights are read back
	out := mustRun(t, e, "status")
	want := `rollout:   web
phase:     Paused (step)
strategy:  canary
stable:    v1
canary:    v2
step:      2/3 pause (until promote)
weights:   canary 0.1%, baseline 0.1%
observed:  canary 0.1%, baseline 0.1%
message:   step 2/3: pause (until promote); waiting for promote
router:    http://127.0.0.1:8080
`
	if out != want {
		t.Fatalf("status table:\n%s\nwant:\n%s", out, want)
	}
}

func TestStatusJSONAndYAML(t *testing.T) {
	e := newCLIEnv(t)
	mustRun(t, e, "start", "v2")
	e.b.Tick(time.Second)
	var fromJSON wire.RolloutView
	if err := json.Unmarshal([]byte(mustRun(t, e, "status", "-o", "json")), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if fromJSON.Status.CanaryRevision != "v2" || fromJSON.Status.Weights.CanaryPPM != 1000 || len(fromJSON.Steps) != 3 {
		t.Fatalf("json: %+v", fromJSON)
	}
	out := mustRun(t, e, "status", "-o", "yaml")
	if !strings.Contains(out, "canaryRevision: v2") || !strings.Contains(out, "canaryPPM: 1000") {
		t.Fatalf("yaml lacks the JSON field names:\n%s", out)
	}
	var fromYAML wire.RolloutView
	if err := yaml.Unmarshal([]byte(out), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if fromYAML.Status.CanaryRevision != "v2" || fromYAML.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("yaml: %+v", fromYAML.Status)
	}
	if _, err := e.run(t, "status", "-o", "xml"); err == nil || !strings.Contains(err.Error(), `unknown output format "xml"`) {
		t.Fatalf("-o xml: %v", err)
	}
}

func TestStatusWatchPrintsChanges(t *testing.T) {
	e := newCLIEnv(t)
	mustRun(t, e, "start", "v2")
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(500 * time.Millisecond)
		e.b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdPause})
	}()
	out, err := e.runCtx(ctx, "status", "-w", "--interval", "100ms", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per change (2), got %d:\n%s", len(lines), out)
	}
	var last wire.RolloutView
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil || last.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("last watch line: %v %s", err, lines[1])
	}
}

func TestHistory(t *testing.T) {
	e := newCLIEnv(t)
	if out := mustRun(t, e, "history", "--after", "1"); out != "rollout web: no events yet\n" {
		t.Fatalf("empty history: %q", out)
	}
	mustRun(t, e, "start", "v2")
	mustRun(t, e, "pause")
	out := mustRun(t, e, "history")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "Initialized") ||
		!strings.Contains(lines[2], "Started") || !strings.Contains(lines[2], "canary release of v2 started") || !strings.Contains(lines[3], "Paused") {
		t.Fatalf("history table:\n%s", out)
	}
	var evs []wire.Event
	if err := json.Unmarshal([]byte(mustRun(t, e, "history", "-o", "json", "--after", "2")), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != engine.EventPaused {
		t.Fatalf("history json after 2: %+v", evs)
	}
}

func TestHistoryPagesThroughEverything(t *testing.T) {
	e := newCLIEnv(t)
	for range historyPage + 5 {
		e.b.AddEvent("web", "T", "")
	}
	var evs []wire.Event
	if err := json.Unmarshal([]byte(mustRun(t, e, "history", "-o", "json")), &evs); err != nil {
		t.Fatal(err)
	}
	// Initialized, then the ones added.
	if len(evs) != historyPage+6 || evs[len(evs)-1].ID != historyPage+6 {
		t.Fatalf("got %d events", len(evs))
	}
}

func TestLogs(t *testing.T) {
	e := newCLIEnv(t)
	// Without --revision: stable when idle, the canary during a release.
	if out := mustRun(t, e, "logs"); out != "log of v1 tail=100\n" {
		t.Fatalf("logs while idle: %q", out)
	}
	mustRun(t, e, "start", "v3")
	if out := mustRun(t, e, "logs"); out != "log of v3 tail=100\n" {
		t.Fatalf("logs during a release: %q", out)
	}
	out := mustRun(t, e, "logs", "--revision", "v1", "--baseline", "--tail", "7")
	if out != "log of v1+baseline tail=7\n" {
		t.Fatalf("logs: %q", out)
	}
}

func TestUnknownRollout(t *testing.T) {
	e := newCLIEnv(t)
	for _, args := range [][]string{{"status", "-r", "nope"}, {"pause", "-r", "nope"}, {"history", "-r", "nope"}} {
		_, err := e.run(t, args...)
		if err == nil || err.Error() != `no such rollout "nope"` {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestRolloutSelectionRule(t *testing.T) {
	e := newCLIEnv(t, "web", "api")
	_, err := e.run(t, "status")
	if err == nil || err.Error() != "2 rollouts (api, web): choose one with -r NAME" {
		t.Fatalf("ambiguous: %v", err)
	}
	if _, err := e.run(t, "pause"); err == nil || !strings.Contains(err.Error(), "choose one with -r") {
		t.Fatalf("ambiguous pause: %v", err)
	}
	out := mustRun(t, e, "start", "v2", "--rollout", "api")
	if !strings.HasPrefix(out, "rollout api: started") {
		t.Fatalf("start -r api: %s", out)
	}
	if v, _ := e.b.Get(context.Background(), "web"); v.Status.CanaryRevision != "" {
		t.Fatal("start -r api touched web")
	}

	none := newCLIEnv(t, "x")
	none.b.Remove("x")
	if _, err := none.run(t, "status"); err == nil || !strings.Contains(err.Error(), "has no rollouts") {
		t.Fatalf("no rollouts: %v", err)
	}
}

func TestMissingControlPlane(t *testing.T) {
	dir := t.TempDir()
	e := &cliEnv{stateDir: dir}
	for _, cmd := range []string{"status", "start", "history"} {
		args := []string{cmd}
		if cmd == "start" {
			args = append(args, "v2")
		}
		_, err := e.run(t, args...)
		want := "no kanaria control plane found in " + dir + " (run `kanaria up`)"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", cmd, err, want)
		}
	}
	// The endpoint file is still there but nothing listens.
	gone := newCLIEnv(t)
	os.WriteFile(filepath.Join(gone.stateDir, wire.EndpointFile), []byte("http://127.0.0.1:1\n"), 0o644)
	if _, err := gone.run(t, "status"); err == nil || !strings.Contains(err.Error(), "is `kanaria up` running?") {
		t.Fatalf("dead endpoint: %v", err)
	}
}

func TestServerAndTokenFileFlags(t *testing.T) {
	e := newCLIEnv(t)
	other := t.TempDir() // holds neither endpoint nor token
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"status", "--state-dir", other, "--server", e.url,
		"--token-file", filepath.Join(e.stateDir, wire.TokenFile)})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "rollout:   web") {
		t.Fatalf("--server/--token-file: %v\n%s", err, out.String())
	}
	// A wrong token is refused by the server, with its words.
	bad := filepath.Join(other, "bad-token")
	os.WriteFile(bad, []byte("nope"), 0o600)
	root = NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"status", "-r", "web", "--server", e.url, "--token-file", bad})
	if err := root.Execute(); err == nil || err.Error() != "wrong token" {
		t.Fatalf("bad token: %v", err)
	}
}

func TestVersion(t *testing.T) {
	e := newCLIEnv(t)
	out := mustRun(t, e, "version")
	if !strings.Contains(out, "client: dev\n") || !strings.Contains(out, "server: v9.9.9-test ("+e.url+")") {
		t.Fatalf("version: %s", out)
	}
	var vi versionInfo
	if err := json.Unmarshal([]byte(mustRun(t, e, "version", "-o", "json")), &vi); err != nil || vi.Server != "v9.9.9-test" {
		t.Fatalf("version json: %+v %v", vi, err)
	}
	// Without a control plane the client's version still prints, exit 0.
	lone := &cliEnv{stateDir: t.TempDir()}
	out, err := lone.run(t, "version")
	if err != nil || !strings.Contains(out, "client: dev") || !strings.Contains(out, "server: unknown (no kanaria control plane") {
		t.Fatalf("version without control plane: %v %s", err, out)
	}
}

func TestCompletion(t *testing.T) {
	var e *cliEnv
	out, err := e.runCtx(context.Background(), "completion", "bash")
	if err != nil || !strings.Contains(out, "__start_kanaria") {
		t.Fatalf("completion bash: %v (%d bytes)", err, len(out))
	}
	// Rollout names complete from the running control plane.
	env := newCLIEnv(t, "web", "api")
	out, err = env.runCtx(context.Background(), "__complete", "status", "--state-dir", env.stateDir, "-r", "")
	if err != nil || !strings.Contains(out, "web\n") || !strings.Contains(out, "api\n") {
		t.Fatalf("complete -r: %v %q", err, out)
	}
}
