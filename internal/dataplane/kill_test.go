package dataplane

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

// helperEnv makes the test binary act as a control plane (see
// runHelperControlPlane): the test needs a real process it can kill -9.
const helperEnv = "KANARIA_DATAPLANE_TEST_HELPER"

// helperReport is what the helper control plane prints once traffic flows.
type helperReport struct {
	PID       int      `json:"pid"`
	RouterURL string   `json:"routerURL"`
	Endpoints []string `json:"endpoints"`
}

// runHelperControlPlane starts a data plane through Ensure, runs v1 and
// routes to it, reports, then idles until killed (at most a minute).
func runHelperControlPlane() int {
	dir, bin := os.Getenv(helperEnv), os.Getenv(helperEnv+"_BIN")
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper:", err); return 1 }
	ctx := context.Background()
	c, err := Ensure(ctx, dir, StartOptions{KanariaPath: bin, Listen: "127.0.0.1:0"})
	if err != nil {
		return fail(err)
	}
	pf, err := c.Platform("shop", demoSpec())
	if err != nil {
		return fail(err)
	}
	in := platform.Instance{Rollout: "shop", Revision: "v1"}
	if err := pf.Ensure(ctx, in); err != nil {
		return fail(err)
	}
	var st platform.State
	for i := 0; i < 300 && !st.Ready; i++ {
		time.Sleep(50 * time.Millisecond)
		st, _ = pf.State(in)
	}
	if !st.Ready {
		return fail(fmt.Errorf("v1 not ready: %+v", st))
	}
	cfg := router.Config{Releases: []router.Release{{Name: "shop", Stable: router.Backend{Revision: "v1", Endpoints: st.Endpoints}}},
		Routes: []router.Route{{Release: "shop"}}}
	if err := c.UpdateRouter(ctx, cfg); err != nil {
		return fail(err)
	}
	json.NewEncoder(os.Stdout).Encode(helperReport{PID: c.Info().PID, RouterURL: c.RouterURL(), Endpoints: st.Endpoints})
	time.Sleep(time.Minute)
	return 0
}

// TestKill9OfControlPlaneKeepsServing: the process that started the data
// plane dies by kill -9; the router and the app keep serving the last
// table, and a new client finds it.
func TestKill9OfControlPlaneKeepsServing(t *testing.T) {
	dir := stateDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperEnv+"_BIN="+binary.Kanaria(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var rep helperReport
	lines := make(chan error, 1)
	go func() { lines <- json.NewDecoder(bufio.NewReader(out)).Decode(&rep) }()
	select {
	case err := <-lines:
		if err != nil {
			t.Fatalf("helper control plane: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("helper control plane did not report")
	}
	t.Cleanup(func() { stopDataPlane(t, dir, rep.PID) })

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for i := range 200 {
		status, routed, served, err := get(rep.RouterURL + "/")
		if err != nil || status != 200 || routed != "v1" || served != "v1" {
			t.Fatalf("request %d after kill -9 of the control plane: %d %q %q %v", i, status, routed, served, err)
		}
	}
	c, err := Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg, err := c.RouterConfig(context.Background())
	if err != nil || len(cfg.Releases) != 1 || cfg.Releases[0].Stable.Endpoints[0] != rep.Endpoints[0] {
		t.Fatalf("table after kill -9: %+v %v", cfg.Releases, err)
	}
}
