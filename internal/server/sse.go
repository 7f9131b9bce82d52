package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// Live updates as Server-Sent Events (the streams and their events are
// listed in internal/wire). The server polls its Backend (cheap, in-process)
// and pushes only what changed, so a browser or a script sees a step or a
// weight change within a poll interval without polling the API. A comment
// line is sent every heartbeat so that proxies keep the stream.
const (
	watchPoll      = 250 * time.Millisecond
	watchHeartbeat = 15 * time.Second
	// watchEventPages bounds how many pages of events one poll sends, so a
	// long history reaches a new watcher over a few polls, not in one burst.
	watchEventPages = 10
)

// sseStream writes events to one client.
type sseStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// lastProblem is the backend failure last sent, so that one that
	// persists is sent once, not every poll; a good poll clears it.
	lastProblem string
}

func startSSE(w http.ResponseWriter) *sseStream {
	rc := http.NewResponseController(w)
	// A stream lives as long as the client watches: no write deadline.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	st := &sseStream{w: w, rc: rc}
	st.comment("kanaria watch")
	return st
}

// send writes one event; the JSON has no newlines, so it is one data line.
func (st *sseStream) send(event string, data []byte) error {
	if _, err := fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return st.rc.Flush()
}

func (st *sseStream) sendJSON(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return st.send(event, b)
}

// problem sends a backend failure as a problem event, unless it was the
// last one sent.
func (st *sseStream) problem(err error) error {
	if err.Error() == st.lastProblem {
		return nil
	}
	st.lastProblem = err.Error()
	return st.sendJSON(wire.WatchProblem, jsonhttp.Error{Error: err.Error()})
}

func (st *sseStream) comment(c string) error {
	if _, err := fmt.Fprintf(st.w, ": %s\n\n", c); err != nil {
		return err
	}
	return st.rc.Flush()
}

// pollLoop calls poll every watchPoll until the client leaves, the server
// closes its streams, or poll fails to write; it sends heartbeats between.
func (s *Server) pollLoop(ctx context.Context, st *sseStream, poll func() error) {
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	lastWrite := time.Now()
	for {
		if err := poll(); err != nil {
			return // the client is gone
		}
		select {
		case <-ctx.Done():
			return
		case <-s.dash.done:
			return
		case <-tick.C:
		}
		if time.Since(lastWrite) > watchHeartbeat {
			if st.comment("ping") != nil {
				return
			}
			lastWrite = time.Now()
		}
	}
}

// changed reports whether v's JSON differs from *last and remembers it.
func changed(last *[]byte, v any) ([]byte, bool) {
	b, err := json.Marshal(v)
	if err != nil || bytes.Equal(b, *last) {
		return nil, false
	}
	*last = b
	return b, true
}

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("name")
	after, ok := intQuery(w, r, "after", 0, 0, 1<<62)
	if !ok {
		return
	}
	// An unknown rollout is a plain 404, before the stream starts.
	if _, err := s.b.Get(ctx, name); err != nil {
		s.backendError(w, name, err)
		return
	}
	hb, _ := s.b.(HistoryBackend)
	st := startSSE(w)
	var lastView []byte
	var lastPoint int64 = time.Now().Add(-2 * time.Second).UnixMilli() // the history route has the past
	s.pollLoop(ctx, st, func() error {
		v, err := s.b.Get(ctx, name)
		if err != nil {
			return st.problem(err)
		}
		if b, ok := changed(&lastView, v); ok {
			if err := st.send(wire.WatchRollout, b); err != nil {
				return err
			}
		}
		for range watchEventPages {
			evs, err := s.b.Events(ctx, name, after, maxEventLimit)
			if err != nil {
				return st.problem(err)
			}
			if len(evs) == 0 {
				break
			}
			if err := st.sendJSON(wire.WatchEvents, evs); err != nil {
				return err
			}
			after = evs[len(evs)-1].ID
			if len(evs) < maxEventLimit {
				break
			}
		}
		if hb != nil {
			pts, err := hb.History(ctx, name, time.UnixMilli(lastPoint+1))
			if err != nil {
				return st.problem(err)
			}
			if len(pts) > 0 {
				if err := st.sendJSON(wire.WatchPoints, pts); err != nil {
					return err
				}
				lastPoint = pts[len(pts)-1].UnixMS
			}
		}
		st.lastProblem = ""
		return nil
	})
}

func (s *Server) handleWatchAll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := startSSE(w)
	var last []byte
	s.pollLoop(ctx, st, func() error {
		views, err := s.b.List(ctx)
		if err != nil {
			return st.problem(err)
		}
		st.lastProblem = ""
		if views == nil {
			views = []wire.RolloutView{}
		}
		if b, ok := changed(&last, views); ok {
			return st.send(wire.WatchRollouts, b)
		}
		return nil
	})
}
