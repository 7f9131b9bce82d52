package router

import (
	"bytes"
	"net/url"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// request is what one request through h1Server (the event loop or the
// goroutine path) needs besides its parsed head: the routing and where it
// is being sent.
type request struct {
	t        *table
	method   []byte
	target   []byte
	http10   bool
	hasBody  bool
	chunked  bool // the body is chunked (else it has Content-Length bytes)
	upgrade  bool
	head     bool // HEAD: the response has no body whatever it says
	keep     bool // the client allows another request on its connection
	rel      *release
	backend  *backend
	ep       *endpoint
	issueID  bool              // a first visit: issue newID as the sticky cookie
	newID    [stickyIDLen]byte // copied out of the decision so it stays on the stack
	start    time.Time
	bodySent bool     // the client's body went (at least partly) upstream
	shadow   *capture // the copy kept for mirroring; nil when not mirrored (mirror.go)
	tls      bool     // the client connection is TLS: X-Forwarded-Proto https, a Secure cookie
}

// refusal is the answer a front end sends instead of proxying; code 0 is
// none.
type refusal struct {
	code        int
	reason, msg string
	keep        bool // the connection may carry another request after it
}

// admit checks the request in h and routes it with table t. It has no side
// effects (nothing is counted or written), so the event loop can admit a
// request and still hand the connection to the goroutine path, which then
// admits it again.
func admit(t *table, h *h1.Head) (r request, refused refusal) {
	method, target, proto, ok := h1.RequestLine(h.Bytes(h.First))
	if !ok {
		return r, refusal{400, "Bad Request", "kanaria: malformed request line", false}
	}
	r = request{t: t, method: method, target: target}
	switch {
	case string(proto) == "HTTP/1.1":
	case string(proto) == "HTTP/1.0":
		r.http10 = true
	default:
		return r, refusal{505, "HTTP Version Not Supported", "kanaria: HTTP/1.0 and HTTP/1.1 only on this listener", false}
	}
	body, reason := h.RequestBody()
	if reason != "" {
		return r, refusal{400, "Bad Request", "kanaria: refused: " + reason, false}
	}
	r.chunked = body == h1.BodyChunked
	r.hasBody = r.chunked || body == h1.BodyLength && h.Length > 0
	r.keep = !r.http10 && !h.Close

	host, nHost := []byte(nil), 0
	for i := range h.Fields {
		if h1.EqualFold(h.Bytes(h.Fields[i].Name), "Host") {
			host, nHost = h.Bytes(h.Fields[i].Value), nHost+1
		}
	}
	if nHost > 1 || nHost == 0 && !r.http10 {
		return r, refusal{400, "Bad Request", "kanaria: exactly one Host header is required", false}
	}
	if string(method) == "CONNECT" {
		return r, refusal{405, "Method Not Allowed", "kanaria: CONNECT is not proxied", false}
	}
	r.head = string(method) == "HEAD"
	r.upgrade = h.ConnUpgrade && h.Upgrade >= 0

	var in inputs
	fillInputs(t, h, host, target, &in)
	var d decision
	t.decide(&in, &d)
	keepAfter := r.keep && !r.hasBody // an unread body ends the connection
	switch d.Status {
	case decideNoRoute:
		return r, refusal{404, "Not Found", "kanaria: no route for this host and path", keepAfter}
	case decideKeyNeeds:
		return r, refusal{400, "Bad Request", "kanaria: this route requires a key: " + t.keyHint(), keepAfter}
	}
	if d.Source == keyNewSticky {
		r.issueID, r.newID = true, d.NewID
	}
	r.rel, r.backend = d.Release, d.Backend
	return r, refusal{}
}

// pickEndpoint chooses the instance that serves r. When every instance of
// the chosen version is ejected, stable answers and the version is charged
// (see Router.ServeHTTP): that version is returned as charged, for the
// caller to record once it is sure to proxy the request itself.
func (r *request) pickEndpoint() (charged *backend) {
	b := r.backend
	ep := b.pick()
	if ep == nil && b.version != Stable {
		charged = b
		b = r.rel.backend(Stable)
		ep = b.pick()
	}
	if ep == nil {
		ep = b.any()
	}
	r.backend, r.ep = b, ep
	return charged
}

// fillInputs reduces the request to the decision's strings (views into the
// head's buffer, no copies) the way Router.fromRequest does for net/http.
func fillInputs(t *table, h *h1.Head, host, target []byte, in *inputs) {
	in.Host = bstr(host)
	path := target
	if i := bytes.Index(path, []byte("://")); i > 0 && path[0] != '/' { // absolute-form
		rest := path[i+3:]
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			j = len(rest)
		}
		in.Host, path = bstr(rest[:j]), rest[j:]
	}
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	in.Path = bstr(path)
	if bytes.IndexByte(path, '%') >= 0 { // match on the decoded path, as net/http does
		if p, err := url.PathUnescape(in.Path); err == nil {
			in.Path = p
		}
	}
	for i := range h.Fields {
		f := &h.Fields[i]
		name, val := h.Bytes(f.Name), bstr(h.Bytes(f.Value))
		switch {
		case h1.EqualFold(name, "Cookie"):
			if t.key.cookie != "" && in.KeyCookie == "" {
				in.KeyCookie, _ = CookieValue(val, t.key.cookie)
			}
			if t.key.sticky && in.StickyCookie == "" {
				in.StickyCookie, _ = CookieValue(val, t.key.stickyName)
			}
			if !t.ovr.disabled && in.OverrideCookie == "" {
				in.OverrideCookie, _ = CookieValue(val, t.ovr.cookie)
			}
		case t.key.header != "" && in.KeyHeader == "" && h1.EqualFold(name, t.key.header):
			in.KeyHeader = val
		case !t.ovr.disabled && in.OverrideHeader == "" && h1.EqualFold(name, t.ovr.header):
			in.OverrideHeader = val
		case !t.ovr.disabled && t.ovr.secret != "" && in.OverrideSecret == "" && h1.EqualFold(name, t.ovr.secretHeader):
			in.OverrideSecret = val
		}
		// Apart from the switch: a routed header may also be the key.
		if len(t.hdr.names) > 0 {
			t.headerField(name, val, in)
		}
	}
}

// reusable reports whether the upstream connection that answered r with
// resp may carry another request once the body is read.
func reusable(r *request, resp *h1.Head, kind h1.Body) bool {
	return resp.Persistent(kind) && !r.upgrade
}
