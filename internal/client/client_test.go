package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// backend is the test control plane (the real engine, in memory) with a
// canned metrics history and analysis, which servertest does not keep.
type backend struct {
	*servertest.Backend
	mu        sync.Mutex
	lastSince time.Time
}

func (b *backend) History(_ context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	b.mu.Lock()
	b.lastSince = since
	b.mu.Unlock()
	return []wire.HistoryPoint{{UnixMS: since.UnixMilli(), Weights: v1alpha1.Weights{CanaryPPM: 1000},
		Versions: map[string]wire.VersionPoint{"canary": {Revision: "v2", Requests: 7}}}}, nil
}

func (b *backend) Analysis(_ context.Context, name string) ([]wire.AnalysisRun, error) {
	return []wire.AnalysisRun{{Kind: "background", Revision: "v2", ComparedWith: "baseline"}}, nil
}

func newTest(t *testing.T) (*backend, *Client) {
	b, c, _ := newTestServer(t)
	return b, c
}

func newTestServer(t *testing.T) (*backend, *Client, *server.Server) {
	b := &backend{Backend: servertest.New(wire.Info{Version: "t", RouterURL: "http://127.0.0.1:1"}, servertest.Canary("web"))}
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
	v, err := c.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2", Reason: "ship it"})
	if err != nil || v.Status.CanaryRevision != "v2" || b.LastCommand().Reason != "ship it" {
		t.Fatalf("Do = %+v, %v (backend got %+v)", v.Status, err, b.LastCommand())
	}
	all, _ := b.Events(ctx, "web", 0, 100)
	evs, err := c.Events(ctx, "web", all[0].ID, 1)
	if err != nil || len(evs) != 1 || evs[0] != all[1] {
		t.Fatalf("Events = %+v, %v; want [%+v]", evs, err, all[1])
	}
	var buf bytes.Buffer
	if err := c.Logs(ctx, "web", "v1", true, 12, &buf); err != nil || buf.String() != "log of v1+baseline tail=12\n" || b.LastLogs() != "v1 true 12" {
		t.Fatalf("Logs = %q, %v (backend got %q)", buf.String(), err, b.LastLogs())
	}
	since := time.UnixMilli(1_700_000_000_123)
	pts, err := c.History(ctx, "web", since)
	b.mu.Lock()
	gotSince := b.lastSince
	b.mu.Unlock()
	if err != nil || len(pts) != 1 || pts[0].Versions["canary"].Requests != 7 || !gotSince.Equal(since) {
		t.Fatalf("History = %+v, %v (backend got since %v)", pts, err, gotSince)
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
	b, c, _ := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	all, _ := b.Events(ctx, "web", 0, 100)
	var got []Update
	err := c.Watch(ctx, "web", all[0].ID, func(u Update) error {
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
	if e := kinds[wire.WatchEvents]; !slices.Equal(e.Events, all[1:]) {
		t.Fatalf("events after the first: %+v, want %+v", got, all[1:])
	}
	if p := kinds[wire.WatchPoints]; len(p.Points) != 1 || p.Points[0].Weights.CanaryPPM != 1000 {
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
	_, err := c.Do(ctx, "web", engine.Command{Kind: engine.CmdPause})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || !strings.HasPrefix(err.Error(), "rollout web: no release in progress") || !IsConflict(err) {
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
	b := servertest.New(wire.Info{}, servertest.Canary("web"))
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
