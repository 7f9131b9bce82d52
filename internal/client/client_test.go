package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// memBackend is a canned stand-in for the control plane, enough to see each
// call reach the server and its answer come back typed: one rollout "web",
// a canned history, analysis and log, and a pause that conflicts when
// already paused. The state machine behind the real answers is the
// engine's, tested there and end to end (internal/e2e).
type memBackend struct {
	paused    bool
	lastCmd   engine.Command
	lastLogs  string
	lastSince time.Time
}

func (m *memBackend) Info() wire.Info {
	return wire.Info{Version: "t", RouterURL: "http://127.0.0.1:1"}
}

func (m *memBackend) List(context.Context) ([]wire.RolloutView, error) {
	return []wire.RolloutView{{Name: "web"}}, nil
}

func (m *memBackend) Get(_ context.Context, name string) (wire.RolloutView, error) {
	if name != "web" {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	return wire.RolloutView{Name: "web", Status: v1alpha1.RolloutStatus{StableRevision: "v1"}}, nil
}

func (m *memBackend) Do(_ context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	m.lastCmd = cmd
	if cmd.Kind == engine.CmdPause && m.paused {
		return wire.RolloutView{}, &wire.ConflictError{Reason: "rollout web: already paused"}
	}
	m.paused = cmd.Kind == engine.CmdPause
	return wire.RolloutView{Name: name, Status: v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused}}, nil
}

func (m *memBackend) Events(_ context.Context, name string, after int64, limit int) ([]wire.Event, error) {
	return []wire.Event{{ID: after + 1, Type: "Started", Message: fmt.Sprint(limit)}}, nil
}

func (m *memBackend) Logs(_ context.Context, name, rev string, baseline bool, tail int, w io.Writer) error {
	m.lastLogs = fmt.Sprintf("%s %v %d", rev, baseline, tail)
	_, err := io.WriteString(w, "line\n")
	return err
}

func (m *memBackend) History(_ context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	m.lastSince = since
	return []wire.HistoryPoint{{UnixMS: since.UnixMilli(), CanaryPPM: 1000,
		Versions: map[string]wire.VersionPoint{"canary": {Revision: "v2", Requests: 7}}}}, nil
}

func (m *memBackend) Analysis(_ context.Context, name string) ([]wire.AnalysisRun, error) {
	return []wire.AnalysisRun{{Kind: "background", Revision: "v2", ComparedWith: "baseline"}}, nil
}

func newTest(t *testing.T) (*memBackend, *Client) {
	b, c, _ := newTestServer(t)
	return b, c
}

func newTestServer(t *testing.T) (*memBackend, *Client, *server.Server) {
	b := &memBackend{}
	srv := server.New(b, "tok", server.Options{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.CloseStreams)
	return b, New(ts.URL+"/", "tok"), srv
}

func TestCalls(t *testing.T) {
	b, c := newTest(t)
	ctx := context.Background()
	if info, err := c.Info(ctx); err != nil || info.RouterURL != "http://127.0.0.1:1" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if v, err := c.Get(ctx, "web"); err != nil || v.Status.StableRevision != "v1" {
		t.Fatalf("Get = %+v, %v", v, err)
	}
	if _, err := c.Do(ctx, "web", engine.Command{Kind: engine.CmdPause, Reason: "lunch"}); err != nil || b.lastCmd.Reason != "lunch" {
		t.Fatalf("Do = %v (backend got %+v)", err, b.lastCmd)
	}
	evs, err := c.Events(ctx, "web", 41, 7)
	if err != nil || len(evs) != 1 || evs[0].ID != 42 || evs[0].Message != "7" {
		t.Fatalf("Events = %+v, %v", evs, err)
	}
	var buf bytes.Buffer
	if err := c.Logs(ctx, "web", "v2", true, 12, &buf); err != nil || buf.String() != "line\n" || b.lastLogs != "v2 true 12" {
		t.Fatalf("Logs = %q, %v (backend got %q)", buf.String(), err, b.lastLogs)
	}
	since := time.UnixMilli(1_700_000_000_123)
	pts, err := c.History(ctx, "web", since)
	if err != nil || len(pts) != 1 || pts[0].Versions["canary"].Requests != 7 || !b.lastSince.Equal(since) {
		t.Fatalf("History = %+v, %v (backend got since %v)", pts, err, b.lastSince)
	}
	runs, err := c.Analysis(ctx, "web")
	if err != nil || len(runs) != 1 || runs[0].ComparedWith != "baseline" {
		t.Fatalf("Analysis = %+v, %v", runs, err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	buf.Reset()
	if err := c.Metrics(ctx, &buf); err != nil || !strings.Contains(buf.String(), "# TYPE") {
		t.Fatalf("Metrics = %.200q, %v", buf.String(), err)
	}
}

func TestWatch(t *testing.T) {
	_, c, _ := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []Update
	err := c.Watch(ctx, "web", 41, func(u Update) error {
		got = append(got, u)
		if len(got) == 3 {
			cancel() // the stream goes on until the watcher leaves
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch ended by its context: %v", err)
	}
	kinds := map[string]Update{}
	for _, u := range got[:3] {
		kinds[u.Kind] = u
	}
	if r := kinds[wire.WatchRollout]; r.Rollout.Status.StableRevision != "v1" {
		t.Fatalf("no rollout update first: %+v", got)
	}
	if e := kinds[wire.WatchEvents]; len(e.Events) != 1 || e.Events[0].ID != 42 {
		t.Fatalf("events after 41: %+v", got)
	}
	if p := kinds[wire.WatchPoints]; len(p.Points) != 1 || p.Points[0].CanaryPPM != 1000 {
		t.Fatalf("points: %+v", got)
	}

	if err := c.Watch(context.Background(), "nope", 0, nil); !IsNotFound(err) {
		t.Fatalf("watch of an unknown rollout: %v", err)
	}
	stop := errors.New("enough")
	if err := c.Watch(context.Background(), "web", 0, func(Update) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("a failing callback: %v", err)
	}
}

func TestWatchAllEndsWithTheServer(t *testing.T) {
	_, c, srv := newTestServer(t)
	var lists [][]wire.RolloutView
	err := c.WatchAll(context.Background(), func(u Update) error {
		if u.Kind == wire.WatchRollouts {
			lists = append(lists, u.Rollouts)
			srv.CloseStreams() // as http.Server.Shutdown does
		}
		return nil
	})
	if !errors.Is(err, ErrWatchEnded) {
		t.Fatalf("WatchAll after the server closed its streams: %v", err)
	}
	if len(lists) != 1 || len(lists[0]) != 1 || lists[0][0].Name != "web" {
		t.Fatalf("rollouts updates: %+v", lists)
	}
}

func TestReadEvents(t *testing.T) {
	stream := ": kanaria watch\n\nevent: problem\ndata: {\"error\":\"store\"}\n\n: ping\n\nevent: x\ndata: a\ndata: b\n\n"
	var got []string
	err := readEvents(strings.NewReader(stream), func(event string, data []byte) error {
		got = append(got, event+"="+string(data))
		return nil
	})
	if !errors.Is(err, ErrWatchEnded) || strings.Join(got, "|") != `problem={"error":"store"}|x=a`+"\n"+`b` {
		t.Fatalf("readEvents = %q, %v", got, err)
	}
	u, err := parseUpdate(wire.WatchProblem, []byte(`{"error":"store"}`))
	if err != nil || u.Problem != "store" {
		t.Fatalf("problem update = %+v, %v", u, err)
	}
}

func TestErrorsCarryStatusAndMessage(t *testing.T) {
	_, c := newTest(t)
	ctx := context.Background()
	c.Do(ctx, "web", engine.Command{Kind: engine.CmdPause})
	_, err := c.Do(ctx, "web", engine.Command{Kind: engine.CmdPause})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || err.Error() != "rollout web: already paused" || !IsConflict(err) {
		t.Fatalf("conflict: %#v", err)
	}
	if _, err := c.Get(ctx, "nope"); !IsNotFound(err) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("not found: %v", err)
	}
	if err := c.Logs(ctx, "web", "", false, 0, io.Discard); err == nil || statusOf(err) != 400 {
		t.Fatalf("tail 0: %v", err)
	}
	bad := New(c.BaseURL(), "wrong")
	if _, err := bad.List(ctx); statusOf(err) != 401 {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestFromStateDir(t *testing.T) {
	dir := t.TempDir()
	_, err := FromStateDir(dir)
	if !errors.Is(err, wire.ErrNoControlPlane) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "kanaria up") {
		t.Fatalf("empty state dir: %v", err)
	}
	b := &memBackend{}
	ts := httptest.NewServer(server.New(b, mustToken(t, dir), server.Options{}))
	defer ts.Close()
	if err := wire.WriteEndpoint(dir, ts.URL); err != nil {
		t.Fatal(err)
	}
	c, err := FromStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(context.Background()); err != nil {
		t.Fatalf("List via state dir: %v", err)
	}
	// The endpoint file outlives the control plane: say so plainly.
	ts.Close()
	if _, err := c.List(context.Background()); err == nil || !strings.Contains(err.Error(), "is `kanaria up` running?") {
		t.Fatalf("stopped control plane: %v", err)
	}
}

func mustToken(t *testing.T, dir string) string {
	tok, err := wire.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
