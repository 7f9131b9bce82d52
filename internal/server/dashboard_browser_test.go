package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kanaria-dev/kanaria/internal/controlplane"
	"github.com/kanaria-dev/kanaria/internal/dataplane"
	"github.com/kanaria-dev/kanaria/internal/demoapp"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

const chromiumPath = "/usr/bin/chromium"

// browserRollout is a canary whose revisions are demo apps on loopback: two
// weights, each followed by a pause that waits for promote, and a header
// route to the canary from the first step on.
const browserRollout = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    static:
      revisions:
        v1: [%q]
        v2: [%q]
  strategy:
    canary:
      steps:
        - setWeight: 20
        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
        - pause: {}
        - setWeight: 60
        - pause: {}
`

// dashEnv is a real control plane behind the real API server, with real
// demo-app upstreams and its router serving traffic, all on 127.0.0.1.
type dashEnv struct {
	api       *httptest.Server
	routerURL string
	token     string
}

func newDashEnv(t *testing.T) *dashEnv { return newDashEnvWith(t, browserRollout) }

// newDashEnvWith is newDashEnv for another rollout: rollout is a format
// with the v1 and v2 URLs.
func newDashEnvWith(t *testing.T, rollout string) *dashEnv {
	t.Helper()
	v1 := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v1", Latency: 2 * time.Millisecond}))
	t.Cleanup(v1.Close)
	v2 := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v2", Latency: 5 * time.Millisecond, ErrorRate: 0.05}))
	t.Cleanup(v2.Close)
	rs, err := spec.Parse("kanaria.yaml", fmt.Appendf(nil, rollout, v1.URL, v2.URL))
	if err != nil {
		t.Fatal(err)
	}
	dp := startDataPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := controlplane.New(ctx, controlplane.Options{StateDir: t.TempDir(), DataPlane: dp, Rollouts: rs, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); cp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; cp.Close(context.Background()) })

	e := &dashEnv{token: "browser-test-token", routerURL: dp.RouterURL()}
	srv := server.New(cp, e.token, server.Options{Gatherer: prometheus.NewRegistry()})
	e.api = httptest.NewServer(srv)
	// Streams end first, so Close does not wait for the browser's watch.
	t.Cleanup(e.api.Close)
	t.Cleanup(srv.CloseStreams)
	return e
}

// startDataPlane runs a real data plane (router, platforms) in-process on
// loopback and connects to it, as `kanaria up` does across processes.
func startDataPlane(t *testing.T) *dataplane.Client {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- dataplane.Run(ctx, dataplane.Options{StateDir: dir, Listen: "127.0.0.1:0", Ready: func(dataplane.Info) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("data plane: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("data plane not ready within 15s")
	}
	c, err := dataplane.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); <-done })
	return c
}

// do calls the API with the bearer token, as the CLI would.
func (e *dashEnv) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// traffic sends requests through the router until stop is closed, each as
// a new user (no cookie jar), so the canary gets its share.
func traffic(routerURL string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		c := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if resp, err := c.Get(routerURL + "/"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})
	return &wg
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %s is missing (apt-get install -y chromium): %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser test: %s is missing (apt-get install -y chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatal(err)
	}
	return ctx
}

// within runs actions with a deadline, so a missing element fails the test
// instead of hanging it.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// waitText waits until the element's text is want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent === %q`, sel, want)
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		got := eval[string](t, ctx, fmt.Sprintf(`String((document.querySelector(%q)||{}).textContent)`, sel))
		t.Fatalf("%s: want %q, still %q: %v", sel, want, got, err)
	}
}

func TestDashboardInChromium(t *testing.T) {
	e := newDashEnv(t)
	ctx := newBrowser(t)
	stop := make(chan struct{})
	wg := traffic(e.routerURL, stop)
	defer func() { close(stop); wg.Wait() }()

	// Every confirmation dialog is accepted, as a user who means it.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	var confirmed sync.Map
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			confirmed.Store(ev.Message, true)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	// Without a session: the login form and nothing else.
	within(t, ctx, 20*time.Second, "open the dashboard",
		chromedp.Navigate(e.api.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if n := eval[int](t, ctx, `document.querySelectorAll("#rollout-list tr").length`); n != 0 {
		t.Fatalf("logged out, the page lists %d rollouts", n)
	}
	if got := eval[int](t, ctx, `fetch("/v1/rollouts/web/promote", {method: "POST"}).then(r => r.status)`); got != 401 {
		t.Fatalf("POST without a session: %d, want 401", got)
	}
	if got := eval[int](t, ctx, `fetch("/v1/rollouts").then(r => r.status)`); got != 401 {
		t.Fatalf("GET without a session: %d, want 401", got)
	}

	// A wrong token is refused; the right one shows the list.
	within(t, ctx, 10*time.Second, "wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#login-form button")))
	waitText(t, ctx, "#login-error", "wrong token")
	within(t, ctx, 20*time.Second, "log in",
		chromedp.SendKeys(chromedp.CSS("#token"), e.token),
		chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-list tr[data-name="web"]`)))
	waitText(t, ctx, `#rollout-list tr[data-name="web"] .phase`, "Healthy")

	// The session cookie is HttpOnly: page scripts cannot read it.
	if c := eval[string](t, ctx, `document.cookie`); strings.Contains(c, "kanaria_session") {
		t.Fatalf("session cookie visible to scripts: %q", c)
	}
	// A cookie-authenticated change without the CSRF header is refused.
	if got := eval[int](t, ctx, `fetch("/v1/rollouts/web/pause", {method: "POST"}).then(r => r.status)`); got != 403 {
		t.Fatalf("POST with the cookie but no CSRF header: %d, want 403", got)
	}

	// Open the rollout; mark the page so a reload would show.
	within(t, ctx, 10*time.Second, "open the rollout",
		chromedp.Click(chromedp.CSS(`#rollout-list tr[data-name="web"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#weight")))
	waitText(t, ctx, "#weight", "0%")
	eval[bool](t, ctx, `window.noReload = true`)

	// A release started elsewhere (the API, as the CLI does) shows up live.
	if code, body := e.do(t, "POST", "/v1/rollouts/web/start", `{"revision":"v2"}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	waitText(t, ctx, "#weight", "20%")
	waitText(t, ctx, "#phase", "Paused (step)")
	waitText(t, ctx, "#step", "3/5 pause (until promote)")
	waitText(t, ctx, "#header-routes li", `beta (X-Beta exact "1")`)
	for i := 0; i < 20; i++ { // whatever the user's bucket, the header reaches the canary
		req, _ := http.NewRequest("GET", e.routerURL+"/", nil)
		req.Header.Set("X-Beta", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("X-Kanaria-Version"); v != "v2" {
			t.Fatalf("request %d with X-Beta: 1 served by %q", i, v)
		}
	}
	waitText(t, ctx, "#steps li.current", "pause (until promote)")

	// Promote with the button, confirm, and see the release move on.
	within(t, ctx, 10*time.Second, "promote", chromedp.Click(chromedp.CSS("#btn-promote")))
	waitText(t, ctx, "#weight", "60%")
	waitText(t, ctx, "#step", "5/5 pause (until promote)")
	if _, ok := confirmed.Load("Promote web: move past the current step?"); !ok {
		t.Fatal("promote went through without a confirmation dialog")
	}
	if !eval[bool](t, ctx, `window.noReload === true`) {
		t.Fatal("the page reloaded")
	}
	code, body := e.do(t, "GET", "/v1/rollouts/web", "")
	if code != 200 || !strings.Contains(body, `"stepIndex":4`) {
		t.Fatalf("after promote the control plane says %d %s", code, body)
	}
	waitText(t, ctx, "#events tr:first-child .ev", "Paused")

	// The charts have the canary's traffic (the history route and stream).
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err := chromedp.Run(c, chromedp.Poll[bool](
		`state.points.filter(p => p.versions && p.versions.canary && p.versions.canary.requests > 0).length >= 2`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	cancel()
	if err != nil {
		t.Fatalf("no canary traffic in the charts' data: %v", err)
	}
	if os.Getenv("KANARIA_UPDATE_DOCS") == "1" {
		time.Sleep(20 * time.Second) // a picture for the docs: some history in the charts
	}
	screenshot(t, ctx, "dashboard.png")

	// Logging out empties the page and ends the session server-side.
	within(t, ctx, 10*time.Second, "log out",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if got := eval[int](t, ctx, `fetch("/v1/rollouts").then(r => r.status)`); got != 401 {
		t.Fatalf("GET after logout: %d, want 401", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#rollout-list tr, #events tr").length`); n != 0 {
		t.Fatalf("after logout the page still shows %d rows", n)
	}
}

// screenshot saves the page to $KANARIA_ARTIFACTS (default: a temporary
// directory) and, with KANARIA_UPDATE_DOCS=1, to docs/ for the README.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatal("screenshot is not a PNG")
	}
	dir := os.Getenv("KANARIA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if os.Getenv("KANARIA_UPDATE_DOCS") == "1" {
		docs := filepath.Join("..", "..", "docs", name)
		if err := os.WriteFile(docs, png, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		t.Logf("screenshot copied to %s", docs)
	}
}

// A link with the token in its fragment (kanaria dashboard prints one) logs
// in and opens the page after "&"; the token leaves the address bar before
// anything else runs. A link with a wrong token shows the login form and why.
func TestDashboardTokenLinkInChromium(t *testing.T) {
	const token = "link-token-0123"
	b := servertest.New(wire.Info{Version: "v9.9.9-test"}, servertest.Canary("web"))
	api := httptest.NewServer(server.New(b, token, server.Options{Gatherer: prometheus.NewRegistry()}))
	t.Cleanup(api.Close)
	ctx := newBrowser(t)

	within(t, ctx, 20*time.Second, "open the link",
		chromedp.Navigate(api.URL+"/dashboard/#token="+token+"&/rollouts/web"),
		chromedp.WaitVisible(chromedp.CSS("#weight")))
	waitText(t, ctx, "#phase", "Healthy")
	if href := eval[string](t, ctx, `location.href`); strings.Contains(href, token) || !strings.HasSuffix(href, "/dashboard/#/rollouts/web") {
		t.Fatalf("address after the link: %s", href)
	}
	hist, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range hist.Entries {
		if strings.Contains(entry.URL, token) {
			t.Fatalf("the token is still in the tab's history: %s", entry.URL)
		}
	}
	if got := eval[int](t, ctx, `fetch("/v1/rollouts").then(r => r.status)`); got != 200 {
		t.Fatalf("GET with the link's session: %d", got)
	}

	within(t, ctx, 10*time.Second, "log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	within(t, ctx, 20*time.Second, "open a link with a wrong token",
		chromedp.Navigate(api.URL+"/dashboard/#token=not-it"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")))
	waitText(t, ctx, "#login-error", "wrong token")
	if got := eval[int](t, ctx, `fetch("/v1/rollouts").then(r => r.status)`); got != 401 {
		t.Fatalf("GET after a wrong link: %d, want 401", got)
	}
}

// A stable revision that cannot run shows as Degraded, with the Ready
// condition's reason in plain view, on the rollout's page.
func TestDashboardShowsNotServingInChromium(t *testing.T) {
	rs, err := spec.Parse("kanaria.yaml", []byte(`apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
      command: "kanaria-no-such-command --port {{.Port}}"
  strategy:
    canary:
      steps:
        - setWeight: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	dp := startDataPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := controlplane.New(ctx, controlplane.Options{StateDir: t.TempDir(), DataPlane: dp, Rollouts: rs, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); cp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; cp.Close(context.Background()) })
	const token = "degraded-token-0123"
	srv := server.New(cp, token, server.Options{Gatherer: prometheus.NewRegistry()})
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	t.Cleanup(srv.CloseStreams)

	bctx := newBrowser(t)
	within(t, bctx, 20*time.Second, "open the rollout",
		chromedp.Navigate(api.URL+"/dashboard/#token="+token+"&/rollouts/web"),
		chromedp.WaitVisible(chromedp.CSS("#weight")))
	waitText(t, bctx, "#phase", "Degraded")
	within(t, bctx, 10*time.Second, "the alert", chromedp.WaitVisible(chromedp.CSS("#not-serving")))
	got := eval[string](t, bctx, `document.querySelector("#not-serving").textContent`)
	if !strings.HasPrefix(got, "Not serving (StableNotServing): stable revision v1 does not serve:") || !strings.Contains(got, "executable file not found") {
		t.Fatalf("#not-serving says %q", got)
	}
	if c := eval[string](t, bctx, `getComputedStyle(document.querySelector("#phase")).color`); c != "rgb(176, 0, 32)" {
		t.Errorf("Degraded shown in %s, want the alarm colour", c)
	}
}
