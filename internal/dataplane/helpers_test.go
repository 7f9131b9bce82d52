package dataplane

import (
	"context"
	"errors"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelperControlPlane())
	}
	os.Exit(binary.Main(m))
}

// demoSpec runs the demo app shipped in the kanaria binary.
func demoSpec() v1alpha1.Platform {
	return v1alpha1.Platform{Local: &v1alpha1.LocalPlatform{
		Command:   "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}",
		Readiness: v1alpha1.Probe{Path: "/healthz"},
	}}
}

// stateDir is a short temporary state directory: a unix socket path must
// fit in 108 bytes, and t.TempDir() names can be long.
func stateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "kdp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// startDataPlane starts a data plane through Ensure and makes sure it is
// gone after the test, even if the test failed half way.
func startDataPlane(t *testing.T, dir string) *Client {
	t.Helper()
	bin := binary.Kanaria(t) // built before the start's deadline runs
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Ensure(ctx, dir, StartOptions{KanariaPath: bin, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Info().PID
	t.Cleanup(func() { stopDataPlane(t, dir, pid) })
	return c
}

// stopDataPlane shuts the data plane of dir down, or kills it when it does
// not answer, so no test leaves processes behind.
func stopDataPlane(t *testing.T, dir string, pid int) {
	if c, err := Connect(dir); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Shutdown(ctx); err == nil {
			return
		}
	}
	if locked(dir) {
		t.Logf("data plane pid %d did not shut down; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitState polls p until cond holds for in (at most ~15 s).
func waitState(t *testing.T, p platform.Platform, in platform.Instance, what string, cond func(platform.State, bool) bool) platform.State {
	t.Helper()
	var st platform.State
	var ok bool
	for range 300 {
		if st, ok = p.State(in); cond(st, ok) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s %s never %s; last state %+v ok=%v", in.Rollout, in.Revision, what, st, ok)
	return st
}

func ready(st platform.State, ok bool) bool { return ok && st.Ready }

// get sends one request through the router, without cookies.
func get(url string) (status int, routed, served string, err error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Kanaria-Version"), resp.Header.Get("X-Demo-Revision"), nil
}

// refuses reports whether nothing listens at a base URL any more.
func refuses(url string) bool {
	_, _, _, err := get(url + "/healthz")
	return err != nil && errors.Is(err, syscall.ECONNREFUSED)
}
