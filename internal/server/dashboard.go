package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// The dashboard is plain HTML, CSS and JavaScript embedded in the binary:
// `go build` needs nothing else. Its page is public but empty; every piece
// of data comes from the /v1 API, which accepts either the bearer token or
// a dashboard session.
//
// Sessions: POST /dashboard/login with the control plane's token creates a
// random session id, kept server-side (only its SHA-256) with an expiry and a
// per-session CSRF value, and sets it as a cookie (HttpOnly, SameSite=Strict,
// Path=/, Secure over TLS). Logout deletes it server-side, so a copied cookie
// dies with it. A cookie-authenticated request that changes anything must
// carry X-Kanaria-CSRF with the session's CSRF value: SameSite=Strict already
// keeps the cookie off cross-site requests, and the header is a second lock
// that a form on another site cannot forge.

//go:embed web
var webFS embed.FS

// Session parameters.
const (
	sessionCookie = "kanaria_session"
	csrfHeader    = "X-Kanaria-CSRF"
	sessionTTL    = 12 * time.Hour
	// maxSessions bounds memory: each login makes one; the oldest go first.
	maxSessions = 256
)

type session struct {
	csrf    string
	expires time.Time
}

// dashboard is the Server's dashboard state: sessions and the signal that
// ends live streams on shutdown.
type dashboard struct {
	mu       sync.Mutex
	sessions map[[sha256.Size]byte]session
	done     chan struct{}
	once     sync.Once
}

// mountDashboard adds the dashboard's page, login and session routes. Its
// data comes from the /v1 API, which accepts a session as well as the token.
func (s *Server) mountDashboard() {
	s.dash = &dashboard{sessions: map[[sha256.Size]byte]session{}, done: make(chan struct{})}
	static, _ := fs.Sub(webFS, "web")
	files := http.StripPrefix("/dashboard/", http.FileServerFS(static))
	s.mux.Handle("GET /dashboard/", secureHeaders(files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusFound)
	})
	s.mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("POST /dashboard/login", s.handleLogin)
	s.mux.HandleFunc("POST /dashboard/logout", s.handleLogout)
	s.mux.HandleFunc("GET /dashboard/session", s.handleSession)
}

// CloseStreams ends every live stream (watch) so that http.Server.Shutdown
// does not wait for them: register it with RegisterOnShutdown.
func (s *Server) CloseStreams() { s.dash.once.Do(func() { close(s.dash.done) }) }

// secureHeaders forbids framing (the buttons must not be clickjacked) and
// any script, style or connection not from this origin.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a browser request sent from another site's page. A
// request without Origin (curl, the CLI) is not a browser's cross-site one.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return o == scheme+r.Host
}

// loginBody is the JSON the login form sends.
type loginBody struct {
	Token string `json:"token"`
}

// sessionInfo answers a login and GET /dashboard/session: what the page
// needs to call the API.
type sessionInfo struct {
	CSRF string    `json:"csrf"`
	Info wire.Info `json:"info"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		jsonhttp.WriteError(w, http.StatusForbidden, "login from another origin refused")
		return
	}
	var body loginBody
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil || json.Unmarshal(raw, &body) != nil || body.Token == "" {
		jsonhttp.WriteError(w, http.StatusBadRequest, `want JSON {"token": "..."}`)
		return
	}
	if !s.token.Matches(body.Token) {
		s.log.Warn("dashboard login with a wrong token", "remote", r.RemoteAddr)
		jsonhttp.WriteError(w, http.StatusUnauthorized, "wrong token")
		return
	}
	id, csrf := rand.Text(), rand.Text()
	s.dash.add(id, session{csrf: csrf, expires: time.Now().Add(sessionTTL)})
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	jsonhttp.WriteJSON(w, http.StatusOK, sessionInfo{CSRF: csrf, Info: s.b.Info()})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		sess, ok := s.dash.get(c.Value)
		// Logging someone out is a change too: it needs the CSRF value.
		if ok && !csrfOK(r, sess) {
			jsonhttp.WriteError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header")
			return
		}
		s.dash.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		jsonhttp.WriteError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	sess, ok := s.dash.get(c.Value)
	if !ok {
		jsonhttp.WriteError(w, http.StatusUnauthorized, "session expired; log in again")
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, sessionInfo{CSRF: sess.csrf, Info: s.b.Info()})
}

// cookieAuth serves r if it carries a valid session cookie and reports
// whether it handled r (served it, or refused it for a missing CSRF header).
// Without a valid session it does nothing: the caller answers 401.
func (s *Server) cookieAuth(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	sess, ok := s.dash.get(c.Value)
	if !ok {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, sess) {
		jsonhttp.WriteError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header")
		return true
	}
	next.ServeHTTP(w, r)
	return true
}

func csrfOK(r *http.Request, sess session) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

// Sessions are keyed by the id's hash so that a map lookup's timing says
// nothing about the ids that exist.
func (d *dashboard) get(id string) (session, bool) {
	k := sha256.Sum256([]byte(id))
	d.mu.Lock()
	defer d.mu.Unlock()
	sess, ok := d.sessions[k]
	if ok && time.Now().After(sess.expires) {
		delete(d.sessions, k)
		return session{}, false
	}
	return sess, ok
}

func (d *dashboard) add(id string, sess session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.sessions) >= maxSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, v := range d.sessions {
			if first || v.expires.Before(d.sessions[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(d.sessions, oldest)
	}
	d.sessions[sha256.Sum256([]byte(id))] = sess
}

func (d *dashboard) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sessions, sha256.Sum256([]byte(id)))
}
