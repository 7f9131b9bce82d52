package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server/servertest"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// histBackend adds a fixed metrics history to the test backend.
type histBackend struct {
	*servertest.Backend
	pts []wire.HistoryPoint
}

func (h *histBackend) History(ctx context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	if _, err := h.Get(ctx, name); err != nil {
		return nil, err
	}
	var out []wire.HistoryPoint
	for _, p := range h.pts {
		if p.UnixMS >= since.UnixMilli() {
			out = append(out, p)
		}
	}
	return out, nil
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ name, data string }

// sseReader reads events from a watch response, with a deadline per event.
type sseReader struct {
	t    *testing.T
	resp *http.Response
	ch   chan sseEvent
}

func watch(t *testing.T, ts *httptest.Server, path string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	r := &sseReader{t: t, resp: resp, ch: make(chan sseEvent, 64)}
	go func() {
		defer close(r.ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				r.ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return r
}

// next returns the next event named name, skipping others; bounded wait.
func (r *sseReader) next(name string) sseEvent {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-r.ch:
			if !ok {
				r.t.Fatalf("stream ended waiting for %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			r.t.Fatalf("no %q event within 5s", name)
		}
	}
}

func TestWatchRollout(t *testing.T) {
	b := newBackend()
	ctx := context.Background()
	b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	all, _ := b.Events(ctx, "web", 0, 100)
	now := time.Now().UnixMilli()
	hb := &histBackend{Backend: b, pts: []wire.HistoryPoint{{UnixMS: now - 60_000}, {UnixMS: now + 60_000, Weights: v1alpha1.Weights{CanaryPPM: 1000}}}}
	srv := New(hb, testToken, Options{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.CloseStreams)

	w := watch(t, ts, fmt.Sprintf("/v1/rollouts/web/watch?after=%d", all[0].ID))
	if ct := w.resp.Header.Get("Content-Type"); w.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("watch: %d %s", w.resp.StatusCode, ct)
	}
	var v wire.RolloutView
	if err := json.Unmarshal([]byte(w.next("rollout").data), &v); err != nil || v.Status.Phase != v1alpha1.PhaseProgressing {
		t.Fatalf("first rollout event: %+v %v", v, err)
	}
	var evs []wire.Event
	if err := json.Unmarshal([]byte(w.next("events").data), &evs); err != nil || !slices.Equal(evs, all[1:]) {
		t.Fatalf("events after the first: %+v %v, want %+v", evs, err, all[1:])
	}
	// Only the recent point: the past is the history route's.
	var pts []wire.HistoryPoint
	if err := json.Unmarshal([]byte(w.next("points").data), &pts); err != nil || len(pts) != 1 || pts[0].Weights.CanaryPPM != 1000 {
		t.Fatalf("points: %+v %v", pts, err)
	}

	// A change made elsewhere arrives as the next rollout event.
	if _, err := b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdPause}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(w.next("rollout").data), &v); err != nil || v.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("after pause: %+v %v", v.Status, err)
	}
	if err := json.Unmarshal([]byte(w.next("events").data), &evs); err != nil || len(evs) != 1 || evs[0].Type != engine.EventPaused {
		t.Fatalf("the pause's event: %+v %v", evs, err)
	}
	last, _ := b.Events(ctx, "web", 0, 100)
	b.AddEvent("web", "AnalysisVerdict", "from outside the engine")
	if err := json.Unmarshal([]byte(w.next("events").data), &evs); err != nil || len(evs) != 1 || evs[0].ID != last[len(last)-1].ID+1 {
		t.Fatalf("new event: %+v %v", evs, err)
	}

	// Closing the streams ends the response (what Shutdown needs).
	srv.CloseStreams()
	select {
	case _, ok := <-w.ch:
		for ok {
			_, ok = <-w.ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after CloseStreams")
	}
}

func TestWatchAll(t *testing.T) {
	b, ts := newTestServer(t)
	w := watch(t, ts, "/v1/watch")
	var views []wire.RolloutView
	if err := json.Unmarshal([]byte(w.next("rollouts").data), &views); err != nil || len(views) != 1 {
		t.Fatalf("rollouts: %+v %v", views, err)
	}
	b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	if err := json.Unmarshal([]byte(w.next("rollouts").data), &views); err != nil || views[0].Status.CanaryRevision != "v2" {
		t.Fatalf("after start: %+v %v", views, err)
	}
}

func TestWatchRefusals(t *testing.T) {
	_, ts := newTestServer(t)
	for _, p := range []string{"/v1/watch", "/v1/rollouts/web/watch", "/v1/rollouts/web/history"} {
		if code, _, _ := callWith(t, ts, "GET", p, "", ""); code != 401 {
			t.Errorf("%s without token: %d, want 401", p, code)
		}
	}
	if code, _, body := call(t, ts, "GET", "/v1/rollouts/nope/watch", ""); code != 404 || !strings.Contains(errorOf(t, body), "nope") {
		t.Fatalf("watch unknown: %d %q", code, body)
	}
	if code, _, _ := call(t, ts, "GET", "/v1/rollouts/web/watch?after=x", ""); code != 400 {
		t.Fatalf("bad after: %d", code)
	}
	if code, h, _ := call(t, ts, "POST", "/v1/rollouts/web/watch", ""); code != 405 || h.Get("Allow") != "GET" {
		t.Fatalf("POST watch: %d", code)
	}
	// servertest.Backend keeps no history: the route says so.
	if code, _, body := call(t, ts, "GET", "/v1/rollouts/web/history", ""); code != 404 || !strings.Contains(errorOf(t, body), "no metrics history") {
		t.Fatalf("history without HistoryBackend: %d %q", code, body)
	}
}

func TestHistoryRoute(t *testing.T) {
	hb := &histBackend{Backend: newBackend(), pts: []wire.HistoryPoint{{UnixMS: 1000}, {UnixMS: 2000}, {UnixMS: 3000}}}
	ts := httptest.NewServer(New(hb, testToken, Options{}))
	t.Cleanup(ts.Close)
	code, _, body := call(t, ts, "GET", "/v1/rollouts/web/history?since=2000", "")
	var pts []wire.HistoryPoint
	if code != 200 || json.Unmarshal([]byte(body), &pts) != nil || len(pts) != 2 || pts[0].UnixMS != 2000 {
		t.Fatalf("history since 2000: %d %q", code, body)
	}
	if _, _, body = call(t, ts, "GET", "/v1/rollouts/web/history?since=9000", ""); strings.TrimSpace(body) != "[]" {
		t.Fatalf("empty history = %q, want []", body)
	}
	for _, q := range []string{"since=abc", "since=-5"} {
		if code, _, _ := call(t, ts, "GET", "/v1/rollouts/web/history?"+q, ""); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, _, _ := call(t, ts, "GET", "/v1/rollouts/nope/history", ""); code != 404 {
		t.Fatalf("unknown rollout: %d", code)
	}
}
