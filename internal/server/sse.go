package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Live updates as Server-Sent Events. The server polls its Backend (cheap,
// in-process) and pushes only what changed, so a browser or a script sees a
// step or a weight change within a poll interval without polling the API.
//
//	GET /v1/rollouts/{name}/watch?after=EVENTID
//	    event: rollout  data: RolloutView        (first, then on every change)
//	    event: events   data: []store.Event      (new events, oldest first)
//	    event: points   data: []HistoryPoint     (new seconds of metrics)
//	    event: problem  data: {"error": "..."}   (the backend failed; the stream goes on)
//	GET /v1/watch
//	    event: rollouts data: []RolloutView      (first, then on every change)
//
// A comment line is sent every heartbeat so that proxies keep the stream.
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
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, r.URL.Path+" needs GET")
		return
	}
	ctx, name := r.Context(), r.PathValue("name")
	after, err := intParam(r.URL.Query().Get("after"), 0, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, "after: "+err.Error())
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
	var lastProblem string
	problem := func(err error) error {
		if err.Error() == lastProblem {
			return nil
		}
		lastProblem = err.Error()
		return st.sendJSON("problem", errorBody{Error: err.Error()})
	}
	s.pollLoop(ctx, st, func() error {
		v, err := s.b.Get(ctx, name)
		if err != nil {
			return problem(err)
		}
		if b, ok := changed(&lastView, v); ok {
			if err := st.send("rollout", b); err != nil {
				return err
			}
		}
		for range watchEventPages {
			evs, err := s.b.Events(ctx, name, after, maxEventLimit)
			if err != nil {
				return problem(err)
			}
			if len(evs) == 0 {
				break
			}
			if err := st.sendJSON("events", evs); err != nil {
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
				return problem(err)
			}
			if len(pts) > 0 {
				if err := st.sendJSON("points", pts); err != nil {
					return err
				}
				lastPoint = pts[len(pts)-1].UnixMS
			}
		}
		lastProblem = ""
		return nil
	})
}

func (s *Server) handleWatchAll(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, r.URL.Path+" needs GET")
		return
	}
	ctx := r.Context()
	st := startSSE(w)
	var last []byte
	var lastProblem string
	s.pollLoop(ctx, st, func() error {
		views, err := s.b.List(ctx)
		if err != nil {
			if err.Error() == lastProblem {
				return nil
			}
			lastProblem = err.Error()
			return st.sendJSON("problem", errorBody{Error: err.Error()})
		}
		lastProblem = ""
		if views == nil {
			views = []RolloutView{}
		}
		if b, ok := changed(&last, views); ok {
			return st.send("rollouts", b)
		}
		return nil
	})
}
