package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
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
	jsonhttp.WriteJSON(w, http.StatusOK, s.b.Info())
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	views, err := s.b.List(r.Context())
	writeList(s, w, "", views, err)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, err := s.b.Get(r.Context(), name)
	s.writeResult(w, name, v, err)
}

func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	name, verb := r.PathValue("name"), r.PathValue("command")
	kind, ok := commands[verb]
	if !ok {
		jsonhttp.WriteError(w, http.StatusNotFound,
			fmt.Sprintf("unknown command %q (want start, promote, pause, resume, abort, undo or stop)", verb))
		return
	}
	var cmd engine.Command
	body := jsonhttp.Body{Limit: s.maxBody, Optional: true, JSONOnly: true}
	if err := body.Decode(w, r, &cmd); err != nil {
		jsonhttp.WriteError(w, jsonhttp.StatusOf(err), err.Error())
		return
	}
	// The path names the command; a body that names another is a client bug
	// that must not be resolved by guessing.
	if cmd.Kind != "" && cmd.Kind != kind {
		jsonhttp.WriteError(w, http.StatusBadRequest,
			fmt.Sprintf("body says command %q but the path says %q", cmd.Kind, verb))
		return
	}
	cmd.Kind = kind
	// A revision that can never be valid is a bad request (400), not a
	// command that does not apply in the rollout's state (409).
	if kind == engine.CmdStart && !validRevision(w, "start needs a revision: ", cmd.Revision) {
		return
	}
	v, err := s.b.Do(r.Context(), name, cmd)
	s.writeResult(w, name, v, err)
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	after, ok := intQuery(w, r, "after", 0, 0, 1<<62)
	if !ok {
		return
	}
	limit, ok := intQuery(w, r, "limit", defaultEventLimit, 1, maxEventLimit)
	if !ok {
		return
	}
	events, err := s.b.Events(r.Context(), name, after, int(limit))
	writeList(s, w, name, events, err)
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	baseline := false
	if v := q.Get("baseline"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			jsonhttp.WriteError(w, http.StatusBadRequest, fmt.Sprintf("baseline: %q is not a boolean", v))
			return
		}
		baseline = b
	}
	tail, ok := intQuery(w, r, "tail", defaultLogTail, 1, maxLogTail)
	if !ok {
		return
	}
	// Headers are sent on the first byte of output, so an error before any
	// output (unknown rollout, no such revision) still gets its JSON status.
	// The revision names log files: one that no revision can have is
	// refused before it reaches a file path.
	rev := q.Get("revision")
	if rev != "" && !validRevision(w, "", rev) {
		return
	}
	lw := &lazyTextWriter{w: w}
	err := s.b.Logs(r.Context(), name, rev, baseline, int(tail), lw)
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

// intQuery reads the optional integer query parameter key within [lo, hi],
// def when absent; a bad value is answered 400 and ok is false.
func intQuery(w http.ResponseWriter, r *http.Request, key string, def, lo, hi int64) (n int64, ok bool) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		jsonhttp.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q is not an integer", key, v))
	case n < lo || n > hi:
		jsonhttp.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: %d is outside %d..%d", key, n, lo, hi))
	default:
		return n, true
	}
	return 0, false
}

// writeResult answers with v, or with err's status (backendError).
func (s *Server) writeResult(w http.ResponseWriter, name string, v any, err error) {
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, v)
}

// writeList is writeResult for lists: none is "[]", not "null", because
// clients range over it.
func writeList[T any](s *Server, w http.ResponseWriter, name string, items []T, err error) {
	if items == nil {
		items = []T{}
	}
	s.writeResult(w, name, items, err)
}

// optional returns the Backend as the optional interface T (such as
// HistoryBackend), or answers 404 with why and reports false.
func optional[T any](s *Server, w http.ResponseWriter, why string) (T, bool) {
	t, ok := s.b.(T)
	if !ok {
		jsonhttp.WriteError(w, http.StatusNotFound, why)
	}
	return t, ok
}

// validRevision answers 400 naming the field "revision" when rev is not a
// valid revision, and reports whether it is.
func validRevision(w http.ResponseWriter, prefix, rev string) bool {
	err := v1alpha1.ValidateRevision(rev)
	if err == nil {
		return true
	}
	jsonhttp.WriteJSON(w, http.StatusBadRequest, jsonhttp.Error{
		Error:    prefix + err.Error(),
		Problems: []jsonhttp.Problem{{Path: "revision", Message: err.Error()}},
	})
	return false
}

// backendError maps a Backend error to its HTTP status.
func (s *Server) backendError(w http.ResponseWriter, name string, err error) {
	var conflict *wire.ConflictError
	var invalid *wire.InvalidError
	var unavailable *wire.UnavailableError
	switch {
	case errors.Is(err, wire.ErrNotFound):
		msg := err.Error()
		if msg == wire.ErrNotFound.Error() && name != "" {
			msg = fmt.Sprintf("no such rollout %q", name)
		}
		jsonhttp.WriteError(w, http.StatusNotFound, msg)
	case errors.As(err, &conflict):
		jsonhttp.WriteError(w, http.StatusConflict, conflict.Reason)
	case errors.As(err, &invalid):
		jsonhttp.WriteError(w, http.StatusBadRequest, invalid.Reason)
	case errors.As(err, &unavailable):
		jsonhttp.WriteError(w, http.StatusServiceUnavailable, unavailable.Reason)
	default:
		s.log.Error("backend failed", "rollout", name, "err", err)
		jsonhttp.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}
