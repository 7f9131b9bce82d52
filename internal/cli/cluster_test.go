package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/kube/cluster"
	"github.com/kanaria-dev/kanaria/internal/kube/cluster/clustertest"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// kubeEnv is a real API server with the Rollout CRD, a namespace "shop"
// with Rollout web, and the kubeconfig that reaches it. No controller runs:
// clustertest.Controller stands in for one reconcile when a test calls it.
type kubeEnv struct {
	t          *testing.T
	c          client.Client
	kubeconfig string
	ns         string
}

func newKubeEnv(t *testing.T) *kubeEnv {
	t.Helper()
	k := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}, Scheme: cluster.Scheme()})
	e := &kubeEnv{t: t, c: k.Client, kubeconfig: k.Kubeconfig, ns: "shop"}
	ctx := context.Background()
	if err := e.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Create(ctx, clustertest.Rollout(e.ns, "web")); err != nil {
		t.Fatal(err)
	}
	// Commands run from a directory without a state directory, so nothing
	// but the flags chooses the cluster.
	t.Chdir(t.TempDir())
	return e
}

// run executes the CLI in-process with the cluster flags (-n shop
// --kubeconfig …) after args, returning stdout, stderr and the error.
func (e *kubeEnv) run(args ...string) (string, string, error) {
	return e.runAs("kanaria", append(args, "-n", e.ns, "--kubeconfig", e.kubeconfig)...)
}

// runAs executes the CLI named name ("kanaria", "kubectl kanaria") with
// exactly args.
func (e *kubeEnv) runAs(name string, args ...string) (string, string, error) {
	root := newRoot(name)
	var out, errw bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errw.String(), err
}

func (e *kubeEnv) mustRun(args ...string) string {
	e.t.Helper()
	out, errw, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("kanaria %s: %v\n%s%s", strings.Join(args, " "), err, out, errw)
	}
	return out
}

func (e *kubeEnv) rollout() *kanariav1alpha1.Rollout {
	e.t.Helper()
	var ro kanariav1alpha1.Rollout
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: "web"}, &ro); err != nil {
		e.t.Fatal(err)
	}
	return &ro
}

func (e *kubeEnv) controller() *kanariav1alpha1.Rollout {
	e.t.Helper()
	return clustertest.Controller(e.t, e.c, e.ns, "web")
}

// command is the Rollout's kanaria.dev/command annotation, parsed.
func (e *kubeEnv) command() (verb, id string) {
	e.t.Helper()
	v, ok := e.rollout().Annotations[kanariav1alpha1.CommandAnnotation]
	if !ok {
		return "", ""
	}
	verb, id, err := kanariav1alpha1.ParseCommand(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return verb, id
}

// Each command writes its patch of the Rollout and says so; the exit
// statuses are one machine's: a command in effect is "nothing to do" with
// exit 0, one that does not apply now exits 3 with the reason.
func TestClusterCommands(t *testing.T) {
	e := newKubeEnv(t)
	if _, _, err := e.run("start", "v2"); exitCodeOf(err) != notAppliedExitCode || !strings.Contains(err.Error(), "no status yet") {
		t.Fatalf("start before the controller saw the Rollout: %v", err)
	}
	e.controller()

	out := e.mustRun("start", "v2")
	for _, want := range []string{
		"rollout web: start v2 requested (spec.revision=v2); Healthy, stable v1 serves all traffic\n",
		"watch: kanaria status -w -r web -n shop --kubeconfig " + e.kubeconfig + "\n",
		"dashboard: kanaria dashboard -n shop --kubeconfig " + e.kubeconfig + " (serves it on 127.0.0.1 and prints its link)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start output lacks %q:\n%s", want, out)
		}
	}
	if ro := e.rollout(); ro.Spec.Revision != "v2" || len(ro.Annotations) != 0 {
		t.Fatalf("start: spec.revision %q, annotations %v", ro.Spec.Revision, ro.Annotations)
	}
	if out := e.mustRun("start", "v2"); !strings.HasPrefix(out, "rollout web: nothing to do: spec.revision=v2 is already written") {
		t.Fatalf("start again before the controller acted: %s", out)
	}
	e.controller() // v2 at 10 %, then the pause until promote

	out = e.mustRun("promote")
	verb, id := e.command()
	if verb != kanariav1alpha1.VerbPromote || !strings.HasPrefix(out, "rollout web: promote requested (kanaria.dev/command=promote/"+id+"); Paused (step), step 2/4 pause (until promote), canary v2 at 10%") {
		t.Fatalf("promote: %s (annotation %s/%s)", out, verb, id)
	}
	_, _, err := e.run("abort")
	if exitCodeOf(err) != notAppliedExitCode || !strings.Contains(err.Error(), "promote/"+id+" is not applied yet") {
		t.Fatalf("abort over a pending promote: %v", err)
	}
	e.controller()

	// pause, resume: spec.paused; and the engine's verdicts before any write.
	if out := e.mustRun("pause"); !strings.HasPrefix(out, "rollout web: pause requested (spec.paused=true)") || !e.rollout().Spec.Paused {
		t.Fatalf("pause: %s", out)
	}
	e.controller()
	if out := e.mustRun("pause"); !strings.HasPrefix(out, "rollout web: nothing to do: already paused") {
		t.Fatalf("pause again: %s", out)
	}
	if out := e.mustRun("resume"); !strings.HasPrefix(out, "rollout web: resume requested (spec.paused=false)") || e.rollout().Spec.Paused {
		t.Fatalf("resume: %s", out)
	}
	e.controller()
	if _, _, err := e.run("undo", "--reason", "bad"); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("--reason against a cluster: %v", err)
	}

	// --wait returns once the controller acted on the command; the stand-in
	// acts when the annotation appears.
	acted := make(chan struct{})
	go func() {
		defer close(acted)
		for range 500 {
			if verb, _ := e.command(); verb == kanariav1alpha1.VerbPromoteFull {
				e.controller()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	out = e.mustRun("promote", "--full", "--wait", "30s")
	<-acted
	if !strings.Contains(out, "rollout web: fully promoted (kanaria.dev/command=promote-full/") || !strings.Contains(out, "acted on by the controller); Healthy, stable v2 serves all traffic") {
		t.Fatalf("promote --full --wait: %s", out)
	}
	if _, _, err := e.run("promote"); exitCodeOf(err) != notAppliedExitCode || !strings.Contains(err.Error(), "rollout web: no release in progress") {
		t.Fatalf("promote after the release: %v", err)
	}
	out = e.mustRun("undo")
	if verb, _ := e.command(); verb != kanariav1alpha1.VerbUndo || !strings.HasPrefix(out, "rollout web: undo requested (kanaria.dev/command=undo/") {
		t.Fatalf("undo: %s", out)
	}
	// A --wait that the controller does not answer ends with an error that
	// says so, after saying what was written.
	e.controller()
	e.mustRun("start", "v3")
	e.controller()
	out, _, err = e.run("abort", "--wait", "300ms")
	if err == nil || !strings.Contains(err.Error(), "the controller has not acted on it yet") || !strings.Contains(out, "abort requested (kanaria.dev/command=abort/") {
		t.Fatalf("abort --wait without a controller: %v\n%s", err, out)
	}
	e.controller()
	out = e.mustRun("stop")
	if verb, _ := e.command(); verb != kanariav1alpha1.VerbStop || !strings.HasPrefix(out, "rollout web: stop requested") {
		t.Fatalf("stop after abort: %s", out)
	}
}

// status -o json prints the status the controller wrote, field for field,
// in the view the one-machine API returns; the table reads the same.
func TestClusterStatus(t *testing.T) {
	e := newKubeEnv(t)
	ro := e.rollout()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	observed := v1alpha1.Weights{CanaryPPM: 100_000}
	ro.Status = v1alpha1.RolloutStatus{
		Rollout: "web", Phase: v1alpha1.PhaseProgressing, Generation: 7,
		StableRevision: "v1", CanaryRevision: "v2", StepIndex: 0, StepStartedAt: at,
		Weights: v1alpha1.Weights{CanaryPPM: 100_000}, ObservedWeights: &observed,
		CanaryReady: true, Message: "step 1/4: setWeight 10%", StartedAt: at, UpdatedAt: at,
		ObservedGeneration: ro.Generation, ObservedRevision: "v2", Step: "1/4", CanaryWeight: "10%",
		Traffic: &v1alpha1.TrafficStatus{Generation: 3,
			Stable:  v1alpha1.BackendStatus{Revision: "v1", Endpoints: []string{"http://web-stable.shop.svc:8080"}},
			Canary:  &v1alpha1.BackendStatus{Revision: "v2", Endpoints: []string{"http://web-canary.shop.svc:8080"}},
			Weights: v1alpha1.Weights{CanaryPPM: 100_000}},
		Conditions: []v1alpha1.Condition{{Type: v1alpha1.ConditionProgressing, Status: v1alpha1.ConditionTrue,
			LastTransitionTime: at, Reason: "Releasing", Message: "v2 at 10%"}},
	}
	if err := e.c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}

	var v wire.RolloutView
	if err := json.Unmarshal([]byte(e.mustRun("status", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v.Status)
	want, _ := json.Marshal(ro.Status)
	if !bytes.Equal(got, want) {
		t.Fatalf("status -o json:\n got %s\nwant %s", got, want)
	}
	if v.Name != "web" || v.Strategy != "canary" || len(v.Steps) != 4 {
		t.Fatalf("view: %+v", v)
	}
	table := e.mustRun("status")
	for _, want := range []string{"phase:     Progressing", "canary:    v2", "step:      1/4 setWeight 10%", "observed:  canary 10%, baseline 0%"} {
		if !strings.Contains(table, want) {
			t.Errorf("status lacks %q:\n%s", want, table)
		}
	}
	// status -w -o json: a document per change, the first at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRoot("kanaria")
	pr, pw := io.Pipe()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"status", "-w", "-o", "json", "--interval", "50ms", "-n", e.ns, "--kubeconfig", e.kubeconfig})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"canaryRevision":"v2"`) {
		t.Fatalf("status -w first document: %q", lines.Text())
	}
	ro = e.rollout()
	ro.Status.Phase, ro.Status.PausedBy = v1alpha1.PhasePaused, "user"
	if err := e.c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || !strings.Contains(lines.Text(), `"phase":"Paused"`) {
		t.Fatalf("status -w after a change: %q", lines.Text())
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The controller's Invalid condition is shown.
	ro = e.rollout()
	ro.Status.Conditions = append(ro.Status.Conditions, v1alpha1.Condition{Type: v1alpha1.ConditionInvalid, Status: v1alpha1.ConditionTrue,
		LastTransitionTime: at, Reason: "InvalidTarget", Message: "Deployment shop/web not found"})
	if err := e.c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("status"); !strings.Contains(out, "invalid:   InvalidTarget: Deployment shop/web not found\n") {
		t.Fatalf("status of an invalid Rollout:\n%s", out)
	}

	if out := e.mustRun("analysis"); !strings.Contains(out, "rollout web: no analysis recorded") {
		t.Fatalf("analysis: %s", out)
	}
	if out := e.mustRun("analysis", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("analysis -o json: %s", out)
	}
}

// history prints the Rollout's Events, oldest first.
func TestClusterHistory(t *testing.T) {
	e := newKubeEnv(t)
	ro := e.rollout()
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, ev := range []struct{ reason, msg string }{
		{"Started", "canary release of v2 started (stable v1)"},
		{"StepReached", "step 1/4: setWeight 10%"},
		{"Paused", "step 2/4: pause (until promote)"},
	} {
		at := metav1.NewTime(base.Add(time.Duration(i) * time.Second))
		err := e.c.Create(ctx, &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "web." + ev.reason},
			InvolvedObject: corev1.ObjectReference{APIVersion: kanariav1alpha1.GroupVersion.String(), Kind: "Rollout",
				Namespace: e.ns, Name: "web", UID: ro.UID},
			Reason: ev.reason, Message: ev.msg, Type: corev1.EventTypeNormal, FirstTimestamp: at, LastTimestamp: at, Count: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := e.mustRun("history")
	started, step, paused := strings.Index(out, "Started"), strings.Index(out, "StepReached"), strings.Index(out, "Paused")
	if started < 0 || step < started || paused < step || !strings.Contains(out, "canary release of v2 started (stable v1)") {
		t.Fatalf("history, oldest first:\n%s", out)
	}
	var evs []wire.Event
	if err := json.Unmarshal([]byte(e.mustRun("history", "-o", "json")), &evs); err != nil || len(evs) != 3 || evs[2].Type != "Paused" {
		t.Fatalf("history -o json: %+v, %v", evs, err)
	}
}

// The backend is chosen by flags of one kind; without flags, by what is
// there: a state directory means a control plane, else a kubeconfig means a
// cluster, said on stderr. As kubectl kanaria it is a cluster, and help
// names the command so.
func TestClusterChoice(t *testing.T) {
	e := newKubeEnv(t)
	e.controller()
	t.Setenv("KUBECONFIG", e.kubeconfig)
	t.Setenv(wire.StateDirEnv, "")

	out, errw, err := e.runAs("kanaria", "status", "-n", e.ns)
	if err != nil || !strings.Contains(out, "phase:     Healthy") || errw != "" {
		t.Fatalf("-n chooses the cluster: %v\n%s%s", err, out, errw)
	}
	// No flags, no .kanaria, a kubeconfig: the cluster, said on stderr.
	// The kubeconfig names no namespace: default, where web is not.
	_, errw, err = e.runAs("kanaria", "status")
	if err == nil || !strings.Contains(err.Error(), "namespace default (context ") || !strings.Contains(errw, "kanaria: no .kanaria here, so the cluster: namespace default") {
		t.Fatalf("automatic choice: %v\nstderr: %s", err, errw)
	}
	if _, _, err := e.runAs("kanaria", "status", "--server", "http://127.0.0.1:1", "-n", "shop"); err == nil || !strings.Contains(err.Error(), "give one kind") {
		t.Fatalf("both kinds of flags: %v", err)
	}
	// A state directory here: the control plane, whose absence is the error.
	if err := os.Mkdir(".kanaria", 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.runAs("kanaria", "status"); err == nil || strings.Contains(err.Error(), "namespace") {
		t.Fatalf("with .kanaria here: %v", err)
	}
	// kubectl kanaria means the cluster, state directory or not.
	out, _, err = e.runAs(pluginName, "status", "-n", e.ns)
	if err != nil || !strings.Contains(out, "rollout:   web") {
		t.Fatalf("kubectl kanaria status: %v\n%s", err, out)
	}
	out, _, _ = e.runAs(pluginName, "--help")
	if !strings.Contains(out, "kubectl kanaria [command]") {
		t.Fatalf("kubectl kanaria --help:\n%s", out)
	}
	out, _, _ = e.runAs(pluginName, "start", "v2", "-n", e.ns)
	if !strings.Contains(out, "watch: kubectl kanaria status -w -r web -n shop\n") {
		t.Fatalf("kubectl kanaria start:\n%s", out)
	}
}

// kanaria dashboard serves the dashboard for the namespace's Rollouts from
// an informer cache: its link logs in, the API lists the Rollout with the
// status the controller wrote, a button's command is the patch; while it
// runs, start prints its link; nothing is served without the token.
func TestClusterDashboard(t *testing.T) {
	e := newKubeEnv(t)
	e.controller()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRoot("kanaria")
	pr, pw := io.Pipe()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"dashboard", "-n", e.ns, "--kubeconfig", e.kubeconfig})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	var link string
	for lines.Scan() {
		if m := regexp.MustCompile(`^http://127\.0\.0\.1:\d+/dashboard/#token=\S+$`).FindString(lines.Text()); m != "" {
			link = m
			break
		}
	}
	if link == "" {
		t.Fatalf("no link printed (%v)", <-done)
	}
	go io.Copy(io.Discard, pr)
	u, _ := url.Parse(link)
	base := u.Scheme + "://" + u.Host
	token := strings.TrimPrefix(u.Fragment, "token=")

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp, err := hc.Get(base + "/v1/rollouts"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a session: %v %v", resp, err)
	}
	body, _ := json.Marshal(map[string]string{"token": token})
	req, _ := http.NewRequest(http.MethodPost, base+"/dashboard/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the link's token: %v %v", resp, err)
	}
	var sess struct {
		CSRF string    `json:"csrf"`
		Info wire.Info `json:"info"`
	}
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if sess.Info.DashboardURL != base+"/dashboard/" {
		t.Fatalf("info: %+v", sess.Info)
	}

	resp, err = hc.Get(base + "/v1/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	var views []wire.RolloutView
	json.NewDecoder(resp.Body).Decode(&views)
	resp.Body.Close()
	if len(views) != 1 || views[0].Name != "web" || views[0].Status.Phase != v1alpha1.PhaseHealthy || views[0].Status.StableRevision != "v1" {
		t.Fatalf("GET /v1/rollouts: %+v", views)
	}

	// While it runs, start prints its link to the rollout's page.
	out := e.mustRun("start", "v2")
	if !strings.Contains(out, "dashboard: "+link+"&/rollouts/web\n") {
		t.Fatalf("start while the dashboard runs:\n%s", out)
	}
	e.controller()
	// The page's promote button is the same patch as kanaria promote.
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/rollouts/web/promote", strings.NewReader(`{"reason":"from the dashboard"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Kanaria-CSRF", sess.CSRF)
	resp, err = hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("promote from the dashboard: %v %v", resp, err)
	}
	resp.Body.Close()
	if verb, _ := e.command(); verb != kanariav1alpha1.VerbPromote {
		t.Fatalf("dashboard promote wrote %q", verb)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if _, ok := runningDashboard(kubeHost(t, e.kubeconfig), e.ns); ok {
		t.Fatal("the dashboard's note outlived it")
	}
	if out := e.mustRun("start", "v3"); strings.Contains(out, "#token=") {
		t.Fatal("start printed the link of a stopped dashboard")
	}
}

// kubeHost is the API server URL in kubeconfig.
func kubeHost(t *testing.T, kubeconfig string) string {
	t.Helper()
	k := clusterFlags{kubeconfig: kubeconfig}
	tgt, err := k.target()
	if err != nil {
		t.Fatal(err)
	}
	return tgt.cfg.Host
}

// The dashboard listens only on loopback addresses: it acts with the
// user's own Kubernetes credentials.
func TestDashboardRefusesRemoteListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:7071", ":7071", "192.0.2.1:80"} {
		if err := requireLoopbackListen(addr); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:7071", "localhost:7071"} {
		if err := requireLoopbackListen(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// The binary is a kubectl plugin through a kubectl-kanaria symlink: kubectl
// (the real one) finds it on PATH, and it names itself kubectl kanaria and
// talks to the cluster of kubectl's flags.
func TestKubectlPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kanaria binary")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubectl needed under CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	bin := binary.Kanaria(t)
	e := newKubeEnv(t)
	e.controller()
	if err := os.Symlink(bin, filepath.Join(dir, pluginExecutable)); err != nil {
		t.Fatal(err)
	}
	kubectlRun := func(args ...string) (string, error) {
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+e.kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := kubectlRun("kanaria", "--help"); err != nil || !strings.Contains(out, "kubectl kanaria [command]") {
		t.Fatalf("kubectl kanaria --help: %v\n%s", err, out)
	}
	if out, err := kubectlRun("kanaria", "status", "-n", e.ns); err != nil || !strings.Contains(out, "rollout:   web") || !strings.Contains(out, "phase:     Healthy") {
		t.Fatalf("kubectl kanaria status: %v\n%s", err, out)
	}
	out, err := kubectlRun("kanaria", "promote", "-n", e.ns)
	if exitCodeOf(err) != notAppliedExitCode || !strings.Contains(out, "kubectl kanaria: rollout web: no release in progress") {
		t.Fatalf("kubectl kanaria promote with no release: %v\n%s", err, out)
	}
}

// verify against a cluster takes the revisions and the weight from the
// Rollout's status, and the router's address from --url (a cluster's router
// is reached however the user reaches it); here a loopback server stamping
// every answer as the stable revision plays the router.
func TestClusterVerify(t *testing.T) {
	e := newKubeEnv(t)
	e.controller()
	if _, _, err := e.run("verify"); err == nil || !strings.Contains(err.Error(), "--url is required: namespace shop") {
		t.Fatalf("verify without --url: %v", err)
	}
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Kanaria-Version", "v1")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(router.Close)
	out, errw, err := e.run("verify", "--url", router.URL, "--requests", "50", "--users", "2", "--per-user", "2")
	if err != nil || !strings.Contains(errw, "verify: rollout web via "+router.URL+": stable v1, canary (none)") {
		t.Fatalf("verify: %v\n%s%s", err, out, errw)
	}
}
