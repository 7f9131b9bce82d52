package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

const testToken = "s3cret-token"

// newBackend is a control plane with one canary rollout, "web", at its
// first status: stable v1 serves all traffic.
func newBackend() *servertest.Backend {
	return servertest.New(wire.Info{Version: "test", RouterURL: "http://127.0.0.1:8080", APIURL: "http://127.0.0.1:7070", StateDir: "/tmp/x"},
		servertest.Canary("web"))
}

// newTestServer serves a fresh newBackend over real HTTP on 127.0.0.1.
func newTestServer(t *testing.T) (*servertest.Backend, *httptest.Server) {
	t.Helper()
	b := newBackend()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kanaria_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	ts := httptest.NewServer(New(b, testToken, Options{Gatherer: reg, MaxBodyBytes: 1024}))
	t.Cleanup(ts.Close)
	return b, ts
}

// call does one request with the test token and returns status and body.
func call(t *testing.T, ts *httptest.Server, method, path, body string) (int, http.Header, string) {
	t.Helper()
	return callWith(t, ts, method, path, body, "Bearer "+testToken)
}

func callWith(t *testing.T, ts *httptest.Server, method, path, body, auth string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e jsonhttp.Error
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e.Error
}

func TestOpenRoutes(t *testing.T) {
	_, ts := newTestServer(t)
	code, _, body := callWith(t, ts, "GET", "/healthz", "", "")
	if code != 200 || body != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, _, body = callWith(t, ts, "GET", "/metrics", "", "")
	if code != 200 || !strings.Contains(body, "kanaria_test_total 1") {
		t.Fatalf("metrics: %d %q", code, body)
	}
}

func TestInfoListGet(t *testing.T) {
	_, ts := newTestServer(t)
	code, h, body := call(t, ts, "GET", "/v1/info", "")
	var info wire.Info
	if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &info) != nil || info.RouterURL != "http://127.0.0.1:8080" {
		t.Fatalf("info: %d %s %q", code, h.Get("Content-Type"), body)
	}

	code, _, body = call(t, ts, "GET", "/v1/rollouts", "")
	var list []wire.RolloutView
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 || list[0].Name != "web" {
		t.Fatalf("list: %d %q", code, body)
	}

	code, _, body = call(t, ts, "GET", "/v1/rollouts/web", "")
	var v wire.RolloutView
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Status.StableRevision != "v1" {
		t.Fatalf("get: %d %q", code, body)
	}

	code, _, body = call(t, ts, "GET", "/v1/rollouts/nope", "")
	if code != 404 || errorOf(t, body) != `no such rollout "nope"` {
		t.Fatalf("get unknown: %d %q", code, body)
	}
}

func TestEmptyListIsArray(t *testing.T) {
	b, ts := newTestServer(t)
	b.Remove("web")
	_, _, body := call(t, ts, "GET", "/v1/rollouts", "")
	if strings.TrimSpace(body) != "[]" {
		t.Fatalf("empty list = %q, want []", body)
	}
}

func TestCommands(t *testing.T) {
	b, ts := newTestServer(t)

	code, _, body := call(t, ts, "POST", "/v1/rollouts/web/start", `{"revision":"v2","reason":"ship it"}`)
	var v wire.RolloutView
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Status.CanaryRevision != "v2" || v.Status.Phase != v1alpha1.PhaseProgressing {
		t.Fatalf("start: %d %q", code, body)
	}
	if cmd := b.LastCommand(); cmd.Kind != engine.CmdStart || cmd.Reason != "ship it" {
		t.Fatalf("backend got %+v", cmd)
	}

	// No body at all: the path alone is the command.
	if code, _, body = call(t, ts, "POST", "/v1/rollouts/web/pause", ""); code != 200 {
		t.Fatalf("pause: %d %q", code, body)
	}
	// A command already in effect changes nothing and says so (200).
	code, _, body = call(t, ts, "POST", "/v1/rollouts/web/pause", "")
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || !strings.HasPrefix(v.Note, "already paused") {
		t.Fatalf("second pause: %d %q", code, body)
	}
	// One that does not apply now is a conflict (409) with the reason.
	code, _, body = call(t, ts, "POST", "/v1/rollouts/web/start", `{"revision":"v3"}`)
	if code != 409 || !strings.HasPrefix(errorOf(t, body), "rollout web: a release of v2 is in progress") {
		t.Fatalf("start during a release: %d %q", code, body)
	}
	if code, _, body = call(t, ts, "POST", "/v1/rollouts/nope/pause", ""); code != 404 {
		t.Fatalf("pause unknown: %d %q", code, body)
	}
	// Every command verb reaches the backend with its kind.
	for verb, kind := range commands {
		if verb == "start" {
			continue
		}
		call(t, ts, "POST", "/v1/rollouts/web/"+verb, `{"full":true}`)
		if cmd := b.LastCommand(); cmd.Kind != kind || !cmd.Full {
			t.Errorf("%s: backend got %+v", verb, cmd)
		}
	}
}

func TestCommandBadInput(t *testing.T) {
	b, ts := newTestServer(t)
	cases := []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"bad json", "/v1/rollouts/web/start", `{"revision":`, 400, "bad JSON body"},
		{"unknown field", "/v1/rollouts/web/start", `{"revison":"v2"}`, 400, "unknown field"},
		{"two values", "/v1/rollouts/web/start", `{"revision":"v2"} {}`, 400, "more than one value"},
		{"kind mismatch", "/v1/rollouts/web/pause", `{"kind":"abort"}`, 400, "path says"},
		{"start without revision", "/v1/rollouts/web/start", ``, 400, "start needs a revision: revision is empty"},
		{"start with a space in the revision", "/v1/rollouts/web/start", `{"revision":"v 2"}`, 400, `start needs a revision: revision "v 2" must be`},
		{"start with a path as revision", "/v1/rollouts/web/start", `{"revision":"../v2"}`, 400, `revision "../v2" must be`},
		{"start with a too long revision", "/v1/rollouts/web/start", `{"revision":"` + strings.Repeat("v", 300) + `"}`, 400, "must be 1-"},
		{"unknown command", "/v1/rollouts/web/explode", ``, 404, "unknown command"},
		{"too big", "/v1/rollouts/web/start", `{"reason":"` + strings.Repeat("x", 2000) + `"}`, 413, "larger than 1024"},
	}
	for _, c := range cases {
		code, _, body := call(t, ts, "POST", c.path, c.body)
		if code != c.code || !strings.Contains(errorOf(t, body), c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, body, c.code, c.msg)
		}
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("bad input reached the backend: %v", calls)
	}
	// The refusal names the field, in the one error shape of every API.
	_, _, body := call(t, ts, "POST", "/v1/rollouts/web/start", `{"revision":"v 2"}`)
	var e jsonhttp.Error
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Problems) != 1 || e.Problems[0].Path != "revision" ||
		!strings.HasPrefix(e.Problems[0].Message, `revision "v 2" must be`) {
		t.Fatalf("body %s: want one problem at path revision", body)
	}

	req, _ := http.NewRequest("POST", ts.URL+"/v1/rollouts/web/start", strings.NewReader("revision=v2"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("form body: %d, want 415", resp.StatusCode)
	}
}

func TestWrongMethodAndUnknownRoute(t *testing.T) {
	_, ts := newTestServer(t)
	code, h, body := call(t, ts, "GET", "/v1/rollouts/web/promote", "")
	if code != 405 || h.Get("Allow") != "POST" || errorOf(t, body) == "" {
		t.Fatalf("GET promote: %d %v %q", code, h, body)
	}
	code, h, _ = call(t, ts, "POST", "/v1/rollouts/web/events", "")
	if code != 405 || h.Get("Allow") != "GET" {
		t.Fatalf("POST events: %d", code)
	}
	code, _, body = call(t, ts, "GET", "/v1/nothing", "")
	if code != 404 || !strings.Contains(errorOf(t, body), "no such API route") {
		t.Fatalf("unknown route: %d %q", code, body)
	}
}

func TestEvents(t *testing.T) {
	b, ts := newTestServer(t)
	ctx := context.Background()
	b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	b.Do(ctx, "web", engine.Command{Kind: engine.CmdPause})
	all, _ := b.Events(ctx, "web", 0, 100)
	if len(all) < 3 {
		t.Fatalf("the engine recorded %+v", all)
	}
	code, _, body := call(t, ts, "GET", fmt.Sprintf("/v1/rollouts/web/events?after=%d&limit=1", all[0].ID), "")
	var evs []wire.Event
	if code != 200 || json.Unmarshal([]byte(body), &evs) != nil || len(evs) != 1 || evs[0] != all[1] {
		t.Fatalf("events: %d %q", code, body)
	}
	code, _, body = call(t, ts, "GET", fmt.Sprintf("/v1/rollouts/web/events?after=%d", all[len(all)-1].ID), "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("no events: %d %q", code, body)
	}
	for _, q := range []string{"limit=0", "limit=abc", "limit=5000", "after=-1"} {
		if code, _, body = call(t, ts, "GET", "/v1/rollouts/web/events?"+q, ""); code != 400 {
			t.Errorf("%s: %d %q", q, code, body)
		}
	}
	if code, _, _ = call(t, ts, "GET", "/v1/rollouts/nope/events", ""); code != 404 {
		t.Fatalf("events unknown: %d", code)
	}
}

func TestLogs(t *testing.T) {
	b, ts := newTestServer(t)
	code, h, body := call(t, ts, "GET", "/v1/rollouts/web/logs?revision=v1&tail=5", "")
	if code != 200 || body != "log of v1 tail=5\n" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("logs: %d %s %q", code, h.Get("Content-Type"), body)
	}
	if got := b.LastLogs(); got != "v1 false 5" {
		t.Fatalf("backend got %q", got)
	}
	// A release runs a baseline copy of stable beside the canary.
	b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	code, _, body = call(t, ts, "GET", "/v1/rollouts/web/logs?revision=v1&baseline=true", "")
	if code != 200 || body != "log of v1+baseline tail=100\n" || b.LastLogs() != "v1 true 100" {
		t.Fatalf("baseline logs: %d %q (backend %q)", code, body, b.LastLogs())
	}
	// An error before any output still gets a proper JSON status.
	code, h, body = call(t, ts, "GET", "/v1/rollouts/web/logs?revision=v9", "")
	if code != 500 || h.Get("Content-Type") != "application/json" || !strings.Contains(errorOf(t, body), "no instances of v9") {
		t.Fatalf("logs of unknown revision: %d %q", code, body)
	}
	if code, _, _ = call(t, ts, "GET", "/v1/rollouts/nope/logs", ""); code != 404 {
		t.Fatalf("logs unknown rollout: %d", code)
	}
	if code, _, _ = call(t, ts, "GET", "/v1/rollouts/web/logs?baseline=maybe", ""); code != 400 {
		t.Fatalf("bad baseline: %d", code)
	}
	// A revision no revision can have never reaches the backend's file paths.
	before := b.LastLogs()
	code, _, body = call(t, ts, "GET", "/v1/rollouts/web/logs?revision=..%2F..%2Ftoken", "")
	if code != 400 || !strings.Contains(errorOf(t, body), `revision "../../token" must be`) || b.LastLogs() != before {
		t.Fatalf("logs of a path as revision: %d %q (backend %q)", code, body, b.LastLogs())
	}
}

func TestBackendErrorsMapped(t *testing.T) {
	b, ts := newTestServer(t)
	b.FailNext(&wire.ConflictError{Reason: "rollout web: nothing to promote"})
	if code, _, body := call(t, ts, "GET", "/v1/rollouts", ""); code != 409 || errorOf(t, body) != "rollout web: nothing to promote" {
		t.Fatalf("conflict: %d %q", code, body)
	}
	b.FailNext(errors.New("disk on fire"))
	if code, _, body := call(t, ts, "GET", "/v1/rollouts/web", ""); code != 500 || errorOf(t, body) != "disk on fire" {
		t.Fatalf("internal: %d %q", code, body)
	}
	// A wrapped wire.ErrNotFound keeps the backend's own words.
	b.FailNext(errors.Join(errors.New("rollout api is not in kanaria.yaml"), wire.ErrNotFound))
	if code, _, body := call(t, ts, "GET", "/v1/rollouts/api", ""); code != 404 || !strings.Contains(errorOf(t, body), "not in kanaria.yaml") {
		t.Fatalf("wrapped not found: %d %q", code, body)
	}
}

// v1Routes is one request per authenticated route.
var v1Routes = []struct{ method, path string }{
	{"GET", "/v1/info"},
	{"GET", "/v1/rollouts"},
	{"GET", "/v1/rollouts/web"},
	{"POST", "/v1/rollouts/web/start"},
	{"POST", "/v1/rollouts/web/promote"},
	{"POST", "/v1/rollouts/web/pause"},
	{"POST", "/v1/rollouts/web/resume"},
	{"POST", "/v1/rollouts/web/abort"},
	{"POST", "/v1/rollouts/web/undo"},
	{"POST", "/v1/rollouts/web/stop"},
	{"GET", "/v1/rollouts/web/events"},
	{"GET", "/v1/rollouts/web/logs?revision=v1"},
	{"GET", "/v1/unknown"},
}

func TestAuthRefusedOnEveryRoute(t *testing.T) {
	b, ts := newTestServer(t)
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "Basic " + testToken, testToken, "Bearer "} {
		for _, r := range v1Routes {
			body := ""
			if r.method == "POST" {
				body = `{"revision":"v2"}`
			}
			code, h, resp := callWith(t, ts, r.method, r.path, body, auth)
			if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %q: %d %q", r.method, r.path, auth, code, resp)
				continue
			}
			errorOf(t, resp)
		}
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("unauthenticated requests reached the backend: %v", calls)
	}
	// The same routes with the token do reach it (so the test above is not
	// passing because the routes are broken).
	for _, r := range v1Routes {
		body := ""
		if r.method == "POST" {
			body = `{"revision":"v2"}`
		}
		if code, _, resp := call(t, ts, r.method, r.path, body); code == 401 {
			t.Errorf("%s %s with token: 401 %q", r.method, r.path, resp)
		}
	}
	if calls := b.Calls(); len(calls) < len(v1Routes)-1 {
		t.Fatalf("authenticated requests: backend saw only %v", calls)
	}
}

// syncBuffer is a log sink safe to read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRefusalsAreLogged(t *testing.T) {
	var logs syncBuffer
	ts := httptest.NewServer(New(newBackend(), testToken, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	defer ts.Close()
	call(t, ts, "GET", "/v1/rollouts", "")
	if logs.String() != "" {
		t.Fatalf("a successful request was logged: %s", logs.String())
	}
	callWith(t, ts, "GET", "/v1/rollouts", "", "Bearer nope")
	if !strings.Contains(logs.String(), "status=401") || !strings.Contains(logs.String(), "path=/v1/rollouts") {
		t.Fatalf("refusal not logged: %q", logs.String())
	}
}

func TestEmptyTokenPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New with an empty token did not panic")
		}
	}()
	New(newBackend(), "", Options{})
}
