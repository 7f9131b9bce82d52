package router

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"sync"
	"sync/atomic"
	"time"
)

// Router is kanaria's data plane as an http.Handler. The routing table sits
// behind an atomic pointer: ServeHTTP loads it once per request without a
// lock; Update and SetWeights build a new table and swap it in one store.
type Router struct {
	tbl    atomic.Pointer[table]
	mu     sync.Mutex // serialises writers (Update, SetWeights, Close)
	tel    *Telemetry
	proxy  *httputil.ReverseProxy
	health *healthSet
	closed bool
}

// New validates cfg, compiles it and starts active health checks if any
// release asks for them. Call Close to stop them.
func New(cfg Config) (*Router, error) {
	r := &Router{tel: NewTelemetry(0)}
	t, err := compile(cfg, nil, r.tel)
	if err != nil {
		return nil, err
	}
	t.transport = newTransport(t.cfg.Timeouts)
	r.tbl.Store(t)
	r.proxy = &httputil.ReverseProxy{
		Rewrite:        r.rewrite,
		Transport:      failoverTransport{},
		ModifyResponse: r.modifyResponse,
		ErrorHandler:   r.errorHandler,
		BufferPool:     &bufferPool{},
		// What the standard library's proxy reports on its own (a body
		// copy that broke midway) goes to the program's slog logger.
		ErrorLog: slog.NewLogLogger(slog.Default().With("component", "router").Handler(), slog.LevelWarn),
	}
	r.health = startHealth(t)
	return r, nil
}

// newTransport builds the upstream connection pool. Compression is left to
// the upstream (a proxy must not add Accept-Encoding), environment proxies
// are ignored (upstreams are addressed directly) and many idle connections
// per host are kept because all traffic to a version goes to few hosts.
func newTransport(to Timeouts) *http.Transport {
	d := &net.Dialer{Timeout: to.Dial.D(), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        to.Idle.D(),
		ResponseHeaderTimeout:  to.ResponseHeader.D(),
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// Telemetry returns the per-version counters, histograms and samples.
func (r *Router) Telemetry() *Telemetry { return r.tel }

// Update validates cfg and swaps in a table built from it. Endpoints and
// telemetry of releases that keep their names (and revisions) carry over.
// On error nothing changes.
func (r *Router) Update(cfg Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("router is closed")
	}
	old := r.tbl.Load()
	t, err := compile(cfg, old, r.tel)
	if err != nil {
		return err
	}
	if t.cfg.Timeouts == old.cfg.Timeouts {
		t.transport = old.transport
	} else {
		t.transport = newTransport(t.cfg.Timeouts)
	}
	r.tbl.Store(t)
	if t.transport != old.transport {
		old.transport.CloseIdleConnections() // in-flight requests keep theirs
	}
	old.closeIdlePools(t) // endpoints that left the table

	r.health.stop()
	r.health = startHealth(t)
	return nil
}

// SetWeights changes one release's weights (ppm) in one table swap. It
// refuses weights above PPMScale in total and weights for a version the
// release does not have.
func (r *Router) SetWeights(release string, canaryPPM, baselinePPM uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.tbl.Load().withWeights(release, canaryPPM, baselinePPM)
	if err != nil {
		return err
	}
	r.tbl.Store(t)
	return nil
}

// Weights returns the weights in force for release.
func (r *Router) Weights(release string) (canaryPPM, baselinePPM uint32, ok bool) {
	t := r.tbl.Load()
	i, ok := t.byName[release]
	if !ok {
		return 0, 0, false
	}
	rel := t.releases[i]
	return rel.canaryPPM, rel.baselinePPM, true
}

// Config returns the table in force, defaults applied and weights as they
// are now. The slices are copies: changing them does not change the router.
func (r *Router) Config() Config {
	c := r.tbl.Load().cfg
	c.Routes = append([]Route(nil), c.Routes...)
	c.Releases = append([]Release(nil), c.Releases...)
	return c
}

// Close stops health checks and idle upstream connections. The handler
// keeps working (a late request is still proxied) but Update is refused.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.health.stop()
	r.tbl.Load().transport.CloseIdleConnections()
	r.tbl.Load().closeIdlePools(nil)
	return nil
}

// reqState carries one request's routing through ReverseProxy's hooks. It
// is a pointer in the request context so the transport's failover can
// change which version serves and the response hook can stamp that one.
type reqState struct {
	tbl        *table
	in         *http.Request
	release    *release
	backend    *backend
	endpoint   *endpoint
	start      time.Time
	status     int // response status once headers arrived
	clientGone bool
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState { return ctx.Value(stateKey{}).(*reqState) }

func (st *reqState) point(b *backend, e *endpoint) { st.backend, st.endpoint = b, e }

// target aims out at the current endpoint and stamps the revision.
func (st *reqState) target(out *http.Request) {
	pr := httputil.ProxyRequest{In: st.in, Out: out}
	pr.SetURL(st.endpoint.url)
	out.Host = st.in.Host // upstreams often route by Host; X-Forwarded-Host carries it too
	out.Header.Set(st.tbl.upstreamVersionHeader, st.backend.revision)
}

// connFailure records a connection failure (status 0) against b.
func (st *reqState) connFailure(b *backend) {
	now := time.Now()
	b.stats.record(now, now.Sub(st.start), 0)
}

// ServeHTTP routes and proxies one request.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t := r.tbl.Load()
	var in inputs
	t.fromRequest(req, &in)
	var d decision
	t.decide(&in, &d)
	switch d.Status {
	case decideNoRoute:
		http.Error(w, "kanaria: no route for this host and path", http.StatusNotFound)
		return
	case decideKeyNeeds:
		http.Error(w, "kanaria: this route requires a key: "+t.keyHint(), http.StatusBadRequest)
		return
	}
	if d.Source == keyNewSticky {
		w.Header().Add("Set-Cookie", t.stickyCookie(&d, req.TLS != nil))
	}
	st := &reqState{tbl: t, in: req, release: d.Release, start: time.Now()}
	b := d.Backend
	ep := b.pick()
	if ep == nil && b.version != Stable {
		// Every instance of this version is ejected: the user still gets an
		// answer from stable, and the version is charged a failure so an
		// analysis cannot mistake "no traffic" for "healthy".
		st.connFailure(b)
		b = d.Release.backend(Stable)
		ep = b.pick()
	}
	if ep == nil {
		ep = b.any()
	}
	st.point(b, ep)
	defer func() {
		if st.status != 0 {
			now := time.Now()
			st.backend.stats.record(now, now.Sub(st.start), st.status)
		}
	}()
	r.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), stateKey{}, st)))
}

// rewrite is ReverseProxy's Rewrite hook. ReverseProxy has already removed
// hop-by-hop headers and the client's X-Forwarded-*; the client's
// X-Forwarded-For chain is restored so SetXForwarded appends to it, like
// nginx's $proxy_add_x_forwarded_for.
func (r *Router) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	if xff, ok := pr.In.Header["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = xff
	}
	pr.SetXForwarded()
	pr.Out.Header.Del(st.tbl.ovr.secretHeader) // the secret is for the router, not the app
	st.target(pr.Out)
}

// modifyResponse stamps the revision that actually served (stable after a
// failover) and remembers the status for telemetry.
func (r *Router) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request.Context())
	resp.Header.Set(st.tbl.versionHeader, st.backend.revision)
	st.status = resp.StatusCode
	return nil
}

// errorHandler answers when no upstream response came. The failure was
// already recorded by the transport; the answer still names the revision
// that was tried, so the error can be attributed.
func (r *Router) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	st := stateOf(req.Context())
	w.Header().Set(st.tbl.versionHeader, st.backend.revision)
	code := errorStatus(err)
	http.Error(w, "kanaria: upstream "+st.backend.revision+" unavailable", code)
}

// fromRequest fills in from a net/http request. Header names were
// canonicalised when the table was compiled, so map lookups do not
// allocate; cookies are scanned in place.
func (t *table) fromRequest(req *http.Request, in *inputs) {
	in.Host, in.Path = req.Host, req.URL.Path
	h := req.Header
	if t.key.header != "" {
		in.KeyHeader = first(h[t.key.header])
	}
	if !t.ovr.disabled {
		in.OverrideHeader = first(h[t.ovr.header])
		if t.ovr.secret != "" {
			in.OverrideSecret = first(h[t.ovr.secretHeader])
		}
	}
	for _, c := range h["Cookie"] {
		if t.key.cookie != "" && in.KeyCookie == "" {
			in.KeyCookie, _ = CookieValue(c, t.key.cookie)
		}
		if t.key.sticky && in.StickyCookie == "" {
			in.StickyCookie, _ = CookieValue(c, t.key.stickyName)
		}
		if !t.ovr.disabled && in.OverrideCookie == "" {
			in.OverrideCookie, _ = CookieValue(c, t.ovr.cookie)
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// stickyCookie formats the Set-Cookie for a fresh id: long-lived so a user
// stays on one version for the whole release, HttpOnly because scripts have
// no business with it, SameSite=Lax so it follows top-level navigation.
func (t *table) stickyCookie(d *decision, secure bool) string {
	s := t.key.stickyName + "=" + string(d.NewID[:]) + "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
	if secure {
		s += "; Secure"
	}
	return s
}

func (t *table) keyHint() string {
	switch {
	case t.key.header != "" && t.key.cookie != "":
		return "send header " + t.key.header + " or cookie " + t.key.cookie
	case t.key.header != "":
		return "send header " + t.key.header
	case t.key.cookie != "":
		return "send cookie " + t.key.cookie
	}
	return "accept the " + t.key.stickyName + " cookie"
}

// canonicalHeader is applied at compile time so request-time lookups can
// index http.Header directly.
func canonicalHeader(s string) string {
	if s == "" {
		return ""
	}
	return textproto.CanonicalMIMEHeaderKey(s)
}
