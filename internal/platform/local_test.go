package platform

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLocalTwoInstancesReadyAnswerAndStop(t *testing.T) {
	l, in := testLocal(t, "", func(sp *v1alpha1.LocalPlatform) {
		sp.Instances = 2
		sp.Env = map[string]string{"GREETING": "hi there", "PORT": "1"} // PORT is kanaria's to set
	})
	if !Has(l, CanStart) || !Has(l, CanStop) || !Has(l, HasLogs) || !Has(l, HasBaseline) {
		t.Fatalf("capabilities %v", l.Capabilities())
	}
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	if len(st.Endpoints) != 2 || st.Endpoints[0] == st.Endpoints[1] || st.Failed || st.Restarts != 0 {
		t.Fatalf("state %+v", st)
	}
	for _, ep := range st.Endpoints {
		body := get(t, ep+"/")
		port := strings.TrimPrefix(ep, "http://127.0.0.1:")
		want := fmt.Sprintf("revision=v2 port=%s greeting=hi there args=--port %s", port, port)
		if body != want {
			t.Errorf("%s answered %q, want %q", ep, body, want)
		}
	}
	pids := l.pids(in)
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if again := l.pids(in); fmt.Sprint(again) != fmt.Sprint(pids) {
		t.Errorf("second Ensure restarted: %v then %v", pids, again)
	}

	files := l.LogFiles(in)
	if len(files) != 2 || filepath.Base(files[1]) != "v2-1.log" {
		t.Fatalf("log files %v", files)
	}
	var out bytes.Buffer
	if err := l.Logs(in, 1, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "listening on ") != 2 || !strings.Contains(out.String(), "==> "+files[0]+" <==") {
		t.Errorf("Logs(tail 1):\n%s", out.String())
	}

	if err := l.Stop(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.State(in); ok {
		t.Error("state still known after Stop")
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("pid %d survived Stop", pid)
		}
	}
	if !strings.Contains(readFile(t, files[0]), "got SIGTERM, exiting") {
		t.Errorf("instance was not stopped by SIGTERM:\n%s", readFile(t, files[0]))
	}
	if err := l.Stop(context.Background(), in); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	// Logs outlive the processes.
	if err := l.Logs(in, 0, io.Discard); err != nil {
		t.Errorf("Logs after Stop: %v", err)
	}
}

func TestLocalBaselineIsASeparateCopy(t *testing.T) {
	l, in := testLocal(t, "", nil)
	base := in
	base.Baseline = true
	for _, x := range []Instance{in, base} {
		if err := l.Ensure(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	a := waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	b := waitState(t, l, base, "baseline ready", func(s State) bool { return s.Ready })
	if a.Endpoints[0] == b.Endpoints[0] {
		t.Fatalf("baseline shares the endpoint %s", a.Endpoints[0])
	}
	if files := l.LogFiles(base); len(files) != 1 || filepath.Base(files[0]) != "v2+baseline-0.log" {
		t.Errorf("baseline log files %v", files)
	}
	if err := l.Stop(context.Background(), base); err != nil {
		t.Fatal(err)
	}
	if st, ok := l.State(in); !ok || !st.Ready {
		t.Errorf("stopping the baseline touched the canary: %+v %v", st, ok)
	}
}

func TestLocalCrashRestartThenFailed(t *testing.T) {
	l, in := testLocal(t, "--crash-after 300ms", nil)
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	waitState(t, l, in, "a restart", func(s State) bool { return s.Restarts >= 1 })
	st := waitState(t, l, in, "failed", func(s State) bool { return s.Failed })
	if st.Ready || len(st.Endpoints) != 0 || st.Restarts != 2 {
		t.Errorf("failed state %+v", st)
	}
	for _, want := range []string{"crashed 3 times", "exited with status 3", "last log line: boom: crashing on purpose"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
	// One log file, appended across the three runs.
	log := readFile(t, l.LogFiles(in)[0])
	if n := strings.Count(log, logMarker); n != 3 {
		t.Errorf("%d starts in the log, want 3:\n%s", n, log)
	}
	// Failed stays failed: Ensure does not silently retry.
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.State(in); !st.Failed {
		t.Errorf("Ensure revived a failed version: %+v", st)
	}
}

func TestLocalCrashBeforeReadyFails(t *testing.T) {
	l, in := testLocal(t, "--exit-now", nil)
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, l, in, "failed", func(s State) bool { return s.Failed })
	for _, want := range []string{"crashed before becoming ready", "exited with status 3", "boom: exiting at once on purpose"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q lacks %q", st.Reason, want)
		}
	}
	if st.Restarts != 0 {
		t.Errorf("restarted a process that never became ready: %+v", st)
	}
}

func TestLocalReadinessTimeoutFails(t *testing.T) {
	l, in := testLocal(t, "--not-ready", func(sp *v1alpha1.LocalPlatform) {
		sp.Readiness.Timeout = v1alpha1.Duration(1500 * time.Millisecond)
	})
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var pid int
	for range 500 {
		if pid = l.pids(in)[0]; pid != 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := waitState(t, l, in, "failed", func(s State) bool { return s.Failed })
	if !strings.Contains(st.Reason, "not ready within 1.5s") || !strings.Contains(st.Reason, "503") {
		t.Errorf("reason %q", st.Reason)
	}
	if len(st.Endpoints) != 0 {
		t.Errorf("a never-ready instance has endpoints %v", st.Endpoints)
	}
	waitGone(t, pid, "the never-ready instance")
}

func TestLocalStopKillsAfterGraceWhenSIGTERMIgnored(t *testing.T) {
	grace := 300 * time.Millisecond
	l, in := testLocal(t, "--ignore-term --spawn-child", func(sp *v1alpha1.LocalPlatform) {
		sp.GracePeriod = v1alpha1.Duration(grace)
	})
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	pid := l.pids(in)[0]
	var child int
	fmt.Sscanf(strings.SplitN(readFile(t, l.LogFiles(in)[0]), "child pid ", 2)[1], "%d", &child)
	if child == 0 {
		t.Fatal("helper did not report its child")
	}
	began := time.Now()
	if err := l.Stop(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < grace {
		t.Errorf("SIGKILL came after %s, before the %s grace period", waited, grace)
	}
	if !gone(pid) {
		t.Errorf("pid %d survived Stop", pid)
	}
	waitGone(t, child, "the instance's own child (same process group)")
	log := readFile(t, l.LogFiles(in)[0])
	if !strings.Contains(log, "ignoring SIGTERM") || strings.Contains(log, "exiting") {
		t.Errorf("log:\n%s", log)
	}
}

func TestLocalStopCutShortByContext(t *testing.T) {
	l, in := testLocal(t, "--ignore-term", func(sp *v1alpha1.LocalPlatform) {
		sp.GracePeriod = v1alpha1.Duration(time.Hour)
	})
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	pid := l.pids(in)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := l.Stop(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("pid %d survived Stop with an expired context", pid)
	}
}

func TestLocalChildrenDieWithParent(t *testing.T) {
	t.Setenv(helperEnv, "1")
	cmd := exec.Command(os.Args[0], "parent", t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
		io.Copy(io.Discard, out)
	}()
	var child int
	select {
	case s := <-line:
		fmt.Sscanf(s, "child %d", &child)
	case <-time.After(30 * time.Second):
		t.Fatal("parent never reported a ready child")
	}
	if child == 0 || gone(child) {
		t.Fatalf("no running child reported (pid %d)", child)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, child, "the child of a kill -9'd parent")
}

func TestLocalEnsureReportsCommandErrors(t *testing.T) {
	cases := []struct{ command, want string }{
		{"{{.Kanaria}} --port {{.Nope}}", "Nope"},
		{"{{.Kanaria", "command"},
		{"{{.Kanaria}} 'unterminated", "unterminated"},
		{"no-such-program-kanaria --port {{.Port}}", "no-such-program-kanaria"},
		{"   ", "empty"},
	}
	for _, c := range cases {
		l, in := testLocal(t, "", func(sp *v1alpha1.LocalPlatform) { sp.Command = c.command })
		reserved.Lock()
		before := len(reserved.ports)
		reserved.Unlock()
		err := l.Ensure(context.Background(), in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one mentioning %q", c.command, err, c.want)
		}
		if _, ok := l.State(in); ok {
			t.Errorf("%q: a version that failed to render is known", c.command)
		}
		reserved.Lock()
		if len(reserved.ports) != before {
			t.Errorf("%q: ports leaked", c.command)
		}
		reserved.Unlock()
	}
	l, _ := testLocal(t, "", nil)
	if err := l.Ensure(context.Background(), Instance{Rollout: "other", Revision: "v1"}); err == nil {
		t.Error("ran an instance of another rollout")
	}
}

func TestLocalCloseStopsAllAndRefusesMore(t *testing.T) {
	l, in := testLocal(t, "", nil)
	other := Instance{Rollout: "web", Revision: "v3"}
	for _, x := range []Instance{in, other} {
		if err := l.Ensure(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	waitState(t, l, other, "ready", func(s State) bool { return s.Ready })
	pids := append(l.pids(in), l.pids(other)...)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("pid %d survived Close", pid)
		}
	}
	if err := l.Ensure(context.Background(), in); err == nil {
		t.Error("Ensure after Close succeeded")
	}
}

// Pdeathsig follows the thread that forked the child. Goroutines that lock
// their thread and exit make the runtime destroy threads; the instances
// must survive that (they are started from threads held by supervisors).
func TestLocalChildSurvivesThreadChurn(t *testing.T) {
	l, in := testLocal(t, "", nil)
	if err := l.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, in, "ready", func(s State) bool { return s.Ready })
	pid := l.pids(in)[0]
	for range 10 {
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
				time.Sleep(time.Millisecond)
			}()
		}
		wg.Wait()
	}
	time.Sleep(200 * time.Millisecond) // let a wrongly delivered SIGKILL land
	if st, _ := l.State(in); st.Restarts != 0 || !st.Ready || l.pids(in)[0] != pid {
		t.Fatalf("instance died while threads were retired: %+v (pid %d, was %d)", st, l.pids(in)[0], pid)
	}
}
