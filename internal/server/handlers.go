package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/kanaria-dev/kanaria/internal/engine"
)

// Limits on query parameters: a CLI asks for pages and tails, never for the
// whole history in one response.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
	defaultLogTail    = 100
	maxLogTail        = 10000
)

// commands are the POST verbs of /v1/rollouts/{name}/{command}.
var commands = map[string]engine.CommandKind{
	"start":   engine.CmdStart,
	"promote": engine.CmdPromote,
	"pause":   engine.CmdPause,
	"resume":  engine.CmdResume,
	"abort":   engine.CmdAbort,
	"undo":    engine.CmdUndo,
	"stop":    engine.CmdStop,
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Info())
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	views, err := s.b.List(r.Context())
	if err != nil {
		s.backendError(w, "", err)
		return
	}
	if views == nil {
		views = []RolloutView{} // "[]", not "null": clients range over it
	}
	writeJSON(w, http.StatusOK, views)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, err := s.b.Get(r.Context(), name)
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// handleRolloutSub dispatches on the last path segment itself, so that a
// wrong method gets a JSON 405 naming the right one instead of the mux's
// plain-text answer.
func (s *Server) handleRolloutSub(w http.ResponseWriter, r *http.Request) {
	sub := r.PathValue("command")
	want := http.MethodPost
	if sub == "events" || sub == "logs" {
		want = http.MethodGet
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s needs %s", r.URL.Path, want))
		return
	}
	switch sub {
	case "events":
		s.handleEvents(w, r)
	case "logs":
		s.handleLogs(w, r)
	default:
		s.handleCommand(w, r)
	}
}

func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	name, verb := r.PathValue("name"), r.PathValue("command")
	kind, ok := commands[verb]
	if !ok {
		writeError(w, http.StatusNotFound,
			fmt.Sprintf("unknown command %q (want start, promote, pause, resume, abort, undo or stop)", verb))
		return
	}
	var cmd engine.Command
	if status, err := s.decodeBody(w, r, &cmd); err != nil {
		writeError(w, status, err.Error())
		return
	}
	// The path names the command; a body that names another is a client bug
	// that must not be resolved by guessing.
	if cmd.Kind != "" && cmd.Kind != kind {
		writeError(w, http.StatusBadRequest,
			fmt.Sprintf("body says command %q but the path says %q", cmd.Kind, verb))
		return
	}
	cmd.Kind = kind
	if kind == engine.CmdStart && cmd.Revision == "" {
		writeError(w, http.StatusBadRequest, "start needs a revision")
		return
	}
	v, err := s.b.Do(r.Context(), name, cmd)
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// decodeBody reads an optional JSON body into dst. It returns the status to
// answer with when the body is unusable.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any) (int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooBig.Limit)
		}
		return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return 0, nil // the body is optional: the path says what to do
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/json", ct)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // a misspelt "revison" must not be ignored
	if err := dec.Decode(dst); err != nil {
		return http.StatusBadRequest, fmt.Errorf("bad JSON body: %w", err)
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("bad JSON body: more than one value")
	}
	return 0, nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	after, err := intParam(q.Get("after"), 0, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, "after: "+err.Error())
		return
	}
	limit, err := intParam(q.Get("limit"), defaultEventLimit, 1, maxEventLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	events, err := s.b.Events(r.Context(), name, after, int(limit))
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	if events == nil {
		writeJSON(w, http.StatusOK, []struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, events)
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	baseline := false
	if v := q.Get("baseline"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("baseline: %q is not a boolean", v))
			return
		}
		baseline = b
	}
	tail, err := intParam(q.Get("tail"), defaultLogTail, 1, maxLogTail)
	if err != nil {
		writeError(w, http.StatusBadRequest, "tail: "+err.Error())
		return
	}
	// Headers are sent on the first byte of output, so an error before any
	// output (unknown rollout, no such revision) still gets its JSON status.
	lw := &lazyTextWriter{w: w}
	err = s.b.Logs(r.Context(), name, q.Get("revision"), baseline, int(tail), lw)
	if err != nil {
		if !lw.started {
			s.backendError(w, name, err)
			return
		}
		s.log.Warn("logs stream failed midway", "rollout", name, "err", err)
		return
	}
	if !lw.started {
		lw.header()
	}
}

// lazyTextWriter commits a 200 text/plain response only when output begins.
type lazyTextWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyTextWriter) header() {
	l.started = true
	l.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	l.w.Header().Set("X-Content-Type-Options", "nosniff")
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyTextWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.header()
	}
	return l.w.Write(p)
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is outside %d..%d", n, lo, hi)
	}
	return n, nil
}

// backendError maps a Backend error to its HTTP status.
func (s *Server) backendError(w http.ResponseWriter, name string, err error) {
	var conflict *ConflictError
	switch {
	case errors.Is(err, ErrNotFound):
		msg := err.Error()
		if msg == ErrNotFound.Error() && name != "" {
			msg = fmt.Sprintf("no such rollout %q", name)
		}
		writeError(w, http.StatusNotFound, msg)
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, conflict.Reason)
	default:
		s.log.Error("backend failed", "rollout", name, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store") // statuses change every second
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
