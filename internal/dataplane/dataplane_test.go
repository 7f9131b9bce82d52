package dataplane

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// TestServesWithoutClientAndReattaches is the data plane's reason to exist:
// once told a table, it serves it with no control plane connected, and a
// new client finds the same table, weights and running instances.
func TestServesWithoutClientAndReattaches(t *testing.T) {
	dir := stateDir(t)
	if _, err := wire.EnsureToken(dir); err != nil {
		t.Fatal(err)
	}
	c := startDataPlane(t, dir)
	pf, err := c.Platform("shop", demoSpec())
	if err != nil {
		t.Fatal(err)
	}
	if !platform.Has(pf, platform.CanStart) || !platform.Has(pf, platform.HasLogs) {
		t.Fatalf("local platform capabilities: %v", pf.Capabilities())
	}
	ctx := context.Background()
	v1 := platform.Instance{Rollout: "shop", Revision: "v1"}
	v2 := platform.Instance{Rollout: "shop", Revision: "v2"}
	for _, in := range []platform.Instance{v1, v2} {
		if err := pf.Ensure(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	s1 := waitState(t, pf, v1, "ready", ready)
	s2 := waitState(t, pf, v2, "ready", ready)

	cfg := router.Config{Releases: []router.Release{{
		Name:         "shop",
		Stable:       router.Backend{Revision: "v1", Endpoints: s1.Endpoints},
		Canary:       &router.Backend{Revision: "v2", Endpoints: s2.Endpoints},
		CanaryWeight: 500_000, // 50 %
	}}, Routes: []router.Route{{Release: "shop"}}}
	if err := c.UpdateRouter(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 40 {
		status, routed, served, err := get(c.RouterURL() + "/")
		if err != nil || status != 200 || routed != served {
			t.Fatalf("through the router: status %d routed %q served %q err %v", status, routed, served, err)
		}
		seen[served]++
	}
	if seen["v1"] == 0 || seen["v2"] == 0 {
		t.Fatalf("a 50%% canary served %v", seen)
	}
	before, err := c.RouterConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// No client: the data plane keeps serving on its own.
	routerURL := c.RouterURL()
	c.Close()
	for i := range 200 {
		status, _, _, err := get(routerURL + "/")
		if err != nil || status != 200 {
			t.Fatalf("request %d with no client connected: status %d, %v", i, status, err)
		}
	}

	c2, err := Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	after, err := c2.RouterConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("table changed across reconnect:\n%+v\n%+v", before, after)
	}
	w, ok, err := c2.Weights(ctx, "shop")
	if err != nil || !ok || w != (v1alpha1.Weights{CanaryPPM: 500_000}) {
		t.Fatalf("weights after reconnect: %d %d %v %v", w.CanaryPPM, w.BaselinePPM, ok, err)
	}
	if _, ok, err := c2.Weights(ctx, "nope"); ok || err != nil {
		t.Fatalf("unknown release: ok=%v err=%v", ok, err)
	}
	// Redefining the same platform (a restarted control plane) keeps the
	// instances that run: same endpoints, still ready.
	pf2, err := c2.Platform("shop", demoSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := pf2.State(v1); !ok || !st.Ready || !reflect.DeepEqual(st.Endpoints, s1.Endpoints) {
		t.Fatalf("v1 after reattach: %+v ok=%v, want endpoints %v", st, ok, s1.Endpoints)
	}

	// Telemetry for analysis, read remotely.
	counts, err := c2.Counts(ctx, "shop", router.Canary)
	if err != nil || counts.Revision != "v2" || counts.ByClass[2] == 0 {
		t.Fatalf("canary counts: %+v %v", counts, err)
	}
	all, err := c2.Samples(ctx, "shop", router.Stable, time.Time{})
	if err != nil || len(all) == 0 {
		t.Fatalf("stable samples: %d %v", len(all), err)
	}
	last := time.Unix(0, all[len(all)-1].UnixNano)
	recent, err := c2.Samples(ctx, "shop", router.Stable, last)
	if err != nil || len(recent) == 0 || len(recent) >= len(all) {
		t.Fatalf("samples since the last one: %d of %d, %v", len(recent), len(all), err)
	}
	rec := httptest.NewRecorder()
	c2.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `kanaria_router_requests_total{`) {
		t.Fatalf("metrics: %d %.300s", rec.Code, rec.Body.String())
	}
	fams, err := c2.Gatherer().Gather()
	if err != nil || len(fams) == 0 {
		t.Fatalf("gatherer: %d families, %v", len(fams), err)
	}

	var logs bytes.Buffer
	if err := pf2.(*RemotePlatform).Logs(v2, 5, &logs); err != nil || !strings.Contains(logs.String(), "demo-app v2 listening") {
		t.Fatalf("logs: %q %v", logs.String(), err)
	}

	// Shutdown stops the apps and the router and removes the socket.
	n, err := c2.Shutdown(ctx)
	if err != nil || n != 2 {
		t.Fatalf("shutdown: stopped %d, %v", n, err)
	}
	for _, ep := range append(s1.Endpoints, s2.Endpoints...) {
		if !refuses(ep) {
			t.Errorf("app %s still answers after shutdown", ep)
		}
	}
	if !refuses(routerURL) {
		t.Errorf("router %s still answers after shutdown", routerURL)
	}
	if _, err := os.Stat(filepath.Join(dir, wire.DataPlaneSocket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := Connect(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Connect after shutdown: %v, want ErrNotRunning", err)
	}
}

// TestRefusals: a bad table is refused with the router's message and the
// old one stays; a second Ensure on another port is refused clearly; a
// wrong or missing token is refused; the socket is private.
func TestRefusals(t *testing.T) {
	dir := stateDir(t)
	if _, err := wire.EnsureToken(dir); err != nil {
		t.Fatal(err)
	}
	c := startDataPlane(t, dir)
	ctx := context.Background()

	err := c.UpdateRouter(ctx, router.Config{Releases: []router.Release{{Name: "x"}}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "releases[0].stable") {
		t.Fatalf("bad table: %v", err)
	}

	_, err = Ensure(ctx, dir, StartOptions{KanariaPath: binary.Kanaria(t), Listen: "127.0.0.1:1"})
	host := strings.TrimPrefix(c.RouterURL(), "http://")
	if err == nil || !strings.Contains(err.Error(), "a data plane already serves on "+host) || !strings.Contains(err.Error(), "--listen "+host) {
		t.Fatalf("Ensure on another port: %v", err)
	}
	// Port 0 means "any": the running one is reused.
	if c2, err := Ensure(ctx, dir, StartOptions{KanariaPath: binary.Kanaria(t), Listen: "127.0.0.1:0"}); err != nil || c2.Info().PID != c.Info().PID {
		t.Fatalf("Ensure with port 0: %v", err)
	}

	fi, err := os.Stat(filepath.Join(dir, wire.DataPlaneSocket))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	raw := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dir, wire.DataPlaneSocket))
		},
	}}
	for _, auth := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest("POST", "http://dataplane/v1/shutdown", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("shutdown with %q: HTTP %d", auth, resp.StatusCode)
		}
	}
	if _, err := c.RouterConfig(ctx); err != nil {
		t.Fatalf("data plane gone after refused shutdowns: %v", err)
	}
}

// TestFailedInstanceIsReported: a command that exits at once shows as
// Failed through the remote API, and an undefined rollout is a clear 404.
func TestFailedInstanceIsReported(t *testing.T) {
	c := startDataPlane(t, stateDir(t))
	sp := demoSpec()
	sp.Local.Command = "{{.Kanaria}} no-such-command --port {{.Port}}"
	pf, err := c.Platform("crashy", sp)
	if err != nil {
		t.Fatal(err)
	}
	in := platform.Instance{Rollout: "crashy", Revision: "v9"}
	if err := pf.Ensure(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, pf, in, "failed", func(st platform.State, ok bool) bool { return ok && st.Failed })
	t.Logf("failed: %+v", st)
	if st.Ready || st.Reason == "" {
		t.Fatalf("failed state: %+v", st)
	}

	other := &RemotePlatform{c: c, rollout: "undefined", cache: map[string]cachedState{}}
	err = other.Ensure(context.Background(), platform.Instance{Rollout: "undefined", Revision: "v1"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Message, "no platform defined") {
		t.Fatalf("undefined rollout: %v", err)
	}

	st2, err := c.Platform("fixed", demoSpec())
	if err != nil || platform.Has(st2, platform.CanStop) == false {
		t.Fatalf("define: %v", err)
	}
}
