package dataplane

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

// TestKanariaDown: `kanaria down` stops a running data plane and its apps,
// and says so; run again it finds nothing and still succeeds.
func TestKanariaDown(t *testing.T) {
	dir := stateDir(t)
	c := startDataPlane(t, dir)
	pf, err := c.Platform("shop", demoSpec())
	if err != nil {
		t.Fatal(err)
	}
	in := platform.Instance{Rollout: "shop", Revision: "v1"}
	if err := pf.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, pf, in, "ready", ready)

	out, err := exec.Command(binary.Kanaria(t), "down", "--state-dir", dir).CombinedOutput()
	want := fmt.Sprintf("stopped data plane pid %d: router %s drained, 1 instance(s) stopped", c.Info().PID, c.RouterURL())
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("kanaria down: %v\n%s\nwant %q", err, out, want)
	}
	if !refuses(st.Endpoints[0]) || !refuses(c.RouterURL()) {
		t.Fatal("app or router still answers after kanaria down")
	}
	out, err = exec.Command(binary.Kanaria(t), "down", "--state-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no data plane running") {
		t.Fatalf("kanaria down again: %v\n%s", err, out)
	}
}

// TestSIGTERMStopsEverything: a SIGTERM does what shutdown does.
func TestSIGTERMStopsEverything(t *testing.T) {
	dir := stateDir(t)
	c := startDataPlane(t, dir)
	pf, err := c.Platform("shop", demoSpec())
	if err != nil {
		t.Fatal(err)
	}
	in := platform.Instance{Rollout: "shop", Revision: "v1"}
	if err := pf.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, pf, in, "ready", ready)
	if err := syscall.Kill(c.Info().PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; locked(dir); i++ {
		if i > 400 {
			t.Fatal("data plane still running 20 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !refuses(st.Endpoints[0]) {
		t.Fatal("app still answers after the data plane's SIGTERM")
	}
}

// TestStaticPlatform: a static platform declares no capability and
// reports its configured endpoints as they are.
func TestStaticPlatform(t *testing.T) {
	c := startDataPlane(t, stateDir(t))
	pf, err := c.Platform("api", v1alpha1.Platform{Static: &v1alpha1.StaticPlatform{
		Revisions: map[string][]string{"v1": {"http://10.0.0.1:8080/"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pf.Capabilities()) != 0 {
		t.Fatalf("static capabilities: %v", pf.Capabilities())
	}
	st, ok := pf.State(platform.Instance{Rollout: "api", Revision: "v1"})
	if !ok || !st.Ready || len(st.Endpoints) != 1 || st.Endpoints[0] != "http://10.0.0.1:8080" {
		t.Fatalf("static state: %+v %v", st, ok)
	}
	if _, ok := pf.State(platform.Instance{Rollout: "api", Revision: "v2"}); ok {
		t.Fatal("unknown static revision reported")
	}
	if _, err := c.Platform("bad", v1alpha1.Platform{}); err == nil || !strings.Contains(err.Error(), "neither local nor static") {
		t.Fatalf("empty platform: %v", err)
	}
}
