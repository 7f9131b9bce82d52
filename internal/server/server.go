package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// DefaultMaxBodyBytes bounds a request body: commands are a few hundred
// bytes, so anything larger is a mistake or an attack, not a command.
const DefaultMaxBodyBytes = 64 << 10

// Options tune a Server; the zero value is usable.
type Options struct {
	// Gatherer is served on /metrics; nil means prometheus.DefaultGatherer,
	// where the control plane's and router's collectors register by default.
	Gatherer prometheus.Gatherer
	// Logger receives one line per refused or failed request; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Server is the control plane's HTTP API. It is an http.Handler so the
// caller chooses the listener, TLS and timeouts.
type Server struct {
	b       Backend
	token   jsonhttp.Token
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	dash    *dashboard // sessions and live streams (dashboard.go)
}

// New builds a Server that serves b to callers presenting token. An empty
// token panics: an API that anyone on the machine can drive is never what
// the caller meant (use wire.EnsureToken).
func New(b Backend, token string, opts Options) *Server {
	if token == "" {
		panic("server.New: empty token")
	}
	s := &Server{
		b:       b,
		token:   jsonhttp.NewToken(token),
		log:     opts.Logger,
		maxBody: opts.MaxBodyBytes,
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	g := opts.Gatherer
	if g == nil {
		g = prometheus.DefaultGatherer
	}

	// Open routes: health checks and scrapers carry no token.
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))

	// Everything under /v1/ is authenticated before routing, so even an
	// unknown path tells an unauthenticated caller nothing. Each route
	// answers a wrong method with a JSON 405, not the mux's plain text.
	get, post := []string{http.MethodGet, http.MethodHead}, []string{http.MethodPost}
	v1 := http.NewServeMux()
	v1.HandleFunc("/v1/info", jsonhttp.Only(s.handleInfo, get...))
	v1.HandleFunc("/v1/rollouts", jsonhttp.Only(s.handleList, get...))
	v1.HandleFunc("/v1/rollouts/{name}", jsonhttp.Only(s.handleGet, get...))
	v1.HandleFunc("/v1/rollouts/{name}/{command}", jsonhttp.Only(s.handleCommand, post...))
	v1.HandleFunc("/v1/rollouts/{name}/events", jsonhttp.Only(s.handleEvents, get...))
	v1.HandleFunc("/v1/rollouts/{name}/logs", jsonhttp.Only(s.handleLogs, get...))
	v1.HandleFunc("/v1/rollouts/{name}/analysis", jsonhttp.Only(s.handleAnalysis, get...))   // analysis.go
	v1.HandleFunc("/v1/rollouts/{name}/history", jsonhttp.Only(s.handleHistory, get...))     // history.go
	v1.HandleFunc("/v1/rollouts/{name}/diff", jsonhttp.Only(s.handleDiff, get...))           // analysis.go
	v1.HandleFunc("/v1/rollouts/{name}/watch", jsonhttp.Only(s.handleWatch, http.MethodGet)) // sse.go
	v1.HandleFunc("/v1/watch", jsonhttp.Only(s.handleWatchAll, http.MethodGet))
	v1.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.WriteError(w, http.StatusNotFound, "no such API route: "+r.Method+" "+r.URL.Path)
	})
	s.mountDashboard() // the dashboard's page and sessions (dashboard.go)
	s.mux.Handle("/v1/", s.requireToken(v1))
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	if sw.status >= 400 {
		// Refusals and failures are what an operator looks for; successful
		// polling (status -w every second) would drown them.
		s.log.Info("api request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "remote", r.RemoteAddr, "took", time.Since(start))
	}
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps streaming responses (logs, watch streams) working through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
