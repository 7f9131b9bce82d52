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

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// memBackend is a test stand-in for the control plane: one rollout "web",
// a canned history and log, and a pause that conflicts when already paused.
// The real control plane is tested end to end by the lead engineer.
type memBackend struct {
	paused   bool
	lastCmd  engine.Command
	lastLogs string
}

func (m *memBackend) Info() server.Info {
	return server.Info{Version: "t", RouterURL: "http://127.0.0.1:1"}
}

func (m *memBackend) List(context.Context) ([]server.RolloutView, error) {
	return []server.RolloutView{{Name: "web"}}, nil
}

func (m *memBackend) Get(_ context.Context, name string) (server.RolloutView, error) {
	if name != "web" {
		return server.RolloutView{}, server.ErrNotFound
	}
	return server.RolloutView{Name: "web", Status: engine.Status{StableRevision: "v1"}}, nil
}

func (m *memBackend) Do(_ context.Context, name string, cmd engine.Command) (server.RolloutView, error) {
	m.lastCmd = cmd
	if cmd.Kind == engine.CmdPause && m.paused {
		return server.RolloutView{}, &server.ConflictError{Reason: "rollout web: already paused"}
	}
	m.paused = cmd.Kind == engine.CmdPause
	return server.RolloutView{Name: name, Status: engine.Status{Phase: engine.Paused}}, nil
}

func (m *memBackend) Events(_ context.Context, name string, after int64, limit int) ([]store.Event, error) {
	return []store.Event{{ID: after + 1, Type: "Started", Message: fmt.Sprint(limit)}}, nil
}

func (m *memBackend) Logs(_ context.Context, name, rev string, baseline bool, tail int, w io.Writer) error {
	m.lastLogs = fmt.Sprintf("%s %v %d", rev, baseline, tail)
	_, err := io.WriteString(w, "line\n")
	return err
}

func newTest(t *testing.T) (*memBackend, *Client) {
	b := &memBackend{}
	ts := httptest.NewServer(server.New(b, "tok", server.Options{}))
	t.Cleanup(ts.Close)
	return b, New(ts.URL+"/", "tok")
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
	if !errors.Is(err, ErrNoControlPlane) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "kanaria up") {
		t.Fatalf("empty state dir: %v", err)
	}
	b := &memBackend{}
	ts := httptest.NewServer(server.New(b, mustToken(t, dir), server.Options{}))
	defer ts.Close()
	if err := server.WriteEndpoint(dir, ts.URL); err != nil {
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
	tok, err := server.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
