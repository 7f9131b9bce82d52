package router

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

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
	shadow     *capture // the copy kept for mirroring; nil when not mirrored
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
	st := r.route(w, req)
	if st == nil {
		return
	}
	defer st.recordStatus()
	r.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), stateKey{}, st)))
}

// route decides who serves req, as every front end does: it answers the
// refusals itself (returning nil), adds a first visit's sticky cookie to
// w, picks the endpoint (stable when every instance of the chosen version
// is ejected) and captures a request chosen for mirroring.
func (r *Router) route(w http.ResponseWriter, req *http.Request) *reqState {
	t := r.tbl.Load()
	var in inputs
	t.fromRequest(req, &in)
	var d decision
	t.decide(&in, &d)
	switch d.Status {
	case decideNoRoute:
		http.Error(w, "kanaria: no route for this host and path", http.StatusNotFound)
		return nil
	case decideKeyNeeds:
		http.Error(w, "kanaria: this route requires a key: "+t.keyHint(), http.StatusBadRequest)
		return nil
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
	if m := d.Release.mirror; m != nil && d.Backend.version == Stable {
		st.shadow = captureHTTP(m, d.Release, req)
	}
	return st
}

// recordStatus records the answer's status against the version that
// served, once one came (connection failures were recorded as they
// happened).
func (st *reqState) recordStatus() {
	if st.status != 0 {
		now := time.Now()
		st.backend.stats.record(now, now.Sub(st.start), st.status)
	}
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
	if c := st.shadow; c != nil {
		c.primary.Status, c.primary.Header = resp.StatusCode, resp.Header.Clone()
		resp.Body = &teeBody{rc: resp.Body, c: c, eof: resp.ContentLength == 0}
	}
	resp.Header.Set(st.tbl.versionHeader, st.backend.revision)
	st.status = resp.StatusCode
	return nil
}

// errorHandler answers when no upstream response came. The failure was
// already recorded by the transport; the answer still names the revision
// that was tried, so the error can be attributed.
func (r *Router) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	st := stateOf(req.Context())
	st.shadow.abandon()
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
	for i, n := range t.hdr.names {
		in.Headers[i] = first(h[n])
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

// retryable: a request that can be sent again without effect or without
// replaying a body the client already streamed to the failed upstream.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return (req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0
}

// failoverTransport sends the request to the endpoint chosen by the
// decision; if that fails to connect and the version is not stable, it
// counts a canary (or baseline) connection failure and, for a retryable
// request, sends it to stable instead. The user gets an answer and the
// analysis still sees the failure.
type failoverTransport struct{}

func (failoverTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateOf(req.Context())
	resp, err := st.tbl.transport.RoundTrip(req)
	if err == nil {
		st.endpoint.succeeded()
		return resp, nil
	}
	if req.Context().Err() != nil { // the client went away: not the upstream's fault
		st.clientGone = true
		return nil, err
	}
	st.endpoint.failed(&st.release.health)
	st.connFailure(st.backend)
	stable := st.release.backend(Stable)
	if st.backend == stable || !retryable(req) {
		return nil, err
	}
	ep := stable.pick()
	if ep == nil {
		ep = stable.any()
	}
	out := req.Clone(req.Context())
	st.point(stable, ep)
	st.target(out)
	resp, err = st.tbl.transport.RoundTrip(out)
	if err == nil {
		ep.succeeded()
		return resp, nil
	}
	if req.Context().Err() != nil {
		st.clientGone = true
		return nil, err
	}
	ep.failed(&st.release.health)
	st.connFailure(stable)
	return nil, err
}

var _ httputil.BufferPool = (*bufferPool)(nil)

// bufferPool recycles the 32 KiB copy buffers ReverseProxy would otherwise
// allocate per response.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
