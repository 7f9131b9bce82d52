package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// fastReq is what one request through the fast front end needs besides
// its parsed head: the routing and where it is being sent.
type fastReq struct {
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
	bodySent bool // the client's body went (at least partly) upstream
}

// answer is a refusal a front end sends instead of proxying; code 0 is
// none.
type answer struct {
	code        int
	reason, msg string
	keep        bool // the connection may carry another request after it
}

// admit checks the request in h and routes it with table t. It has no side
// effects (nothing is counted or written), so the event loop can admit a
// request and still hand the connection to the goroutine path, which then
// admits it again.
func admit(t *table, h *h1.Head) (r fastReq, refused answer) {
	method, target, proto, ok := h1.RequestLine(h.Bytes(h.First))
	if !ok {
		return r, answer{400, "Bad Request", "kanaria: malformed request line", false}
	}
	r = fastReq{t: t, method: method, target: target}
	switch {
	case string(proto) == "HTTP/1.1":
	case string(proto) == "HTTP/1.0":
		r.http10 = true
	default:
		return r, answer{505, "HTTP Version Not Supported", "kanaria: HTTP/1.0 and HTTP/1.1 only on this listener", false}
	}
	body, reason := h.RequestBody()
	if reason != "" {
		return r, answer{400, "Bad Request", "kanaria: refused: " + reason, false}
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
		return r, answer{400, "Bad Request", "kanaria: exactly one Host header is required", false}
	}
	if string(method) == "CONNECT" {
		return r, answer{405, "Method Not Allowed", "kanaria: CONNECT is not proxied", false}
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
		return r, answer{404, "Not Found", "kanaria: no route for this host and path", keepAfter}
	case decideKeyNeeds:
		return r, answer{400, "Bad Request", "kanaria: this route requires a key: " + t.keyHint(), keepAfter}
	}
	if d.Source == keyNewSticky {
		r.issueID, r.newID = true, d.NewID
	}
	r.rel, r.backend = d.Release, d.Backend
	return r, answer{}
}

// pickEndpoint chooses the instance that serves r. When every instance of
// the chosen version is ejected, stable answers and the version is charged
// (see Router.ServeHTTP): that version is returned as charged, for the
// caller to record once it is sure to proxy the request itself.
func (r *fastReq) pickEndpoint() (charged *backend) {
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

// serveOne proxies the request in fc.req. It reports whether the client
// connection may carry another request.
func (fc *fastConn) serveOne() bool {
	h := &fc.req
	r, refused := admit(fc.s.r.tbl.Load(), h)
	if refused.code != 0 {
		fc.writeError(refused.code, refused.reason, refused.msg, "", refused.keep)
		return refused.keep
	}
	r.start = time.Now()
	if b := r.pickEndpoint(); b != nil {
		b.stats.record(r.start, 0, 0)
	}
	if r.hasBody && !r.http10 {
		if v, ok := h.Get("Expect"); ok && h1.EqualFold(v, "100-continue") {
			// The router asks for the body itself (as net/http does when a
			// handler reads it) and does not forward the expectation.
			fc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if fc.bw.Flush() != nil {
				return false
			}
		}
	}
	return fc.proxy(&r, r.keep)
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
	}
}

// proxy sends r upstream (failing over to stable on a connection error when
// that is safe), relays the answer and records it. It reports whether the
// client connection may be kept.
func (fc *fastConn) proxy(r *fastReq, keep bool) bool {
	t := r.t
	to := &t.cfg.Timeouts
	failedOver, fresh := false, false
	var uc *upConn
	for {
		var err error
		uc = nil
		if !fresh && !r.upgrade {
			uc = r.ep.pool.get(r.start, to.Idle.D())
		}
		if uc == nil {
			uc, err = r.ep.dial(to.Dial.D())
		}
		if err == nil {
			err = fc.send(r, uc)
			if err == nil {
				sent := r.start
				if r.hasBody { // the upload may have taken a while
					sent = time.Now()
				}
				uc.rdl.atLeast(uc.c, sent, to.ResponseHeader.D())
				err = h1.ReadHead(uc.br, &uc.resp, 1<<20)
			}
			if err != nil {
				uc.c.Close()
			}
		}
		if err == nil {
			break
		}
		var cerr errClientBody
		if errors.As(err, &cerr) {
			return false // the client broke off its own body: nobody to answer
		}
		if uc != nil && uc.reused && !r.bodySent && staleConn(err) {
			fresh = true // the upstream closed an idle connection: not a failure
			continue
		}
		r.ep.failed(&r.rel.health)
		now := time.Now()
		r.backend.stats.record(now, now.Sub(r.start), 0)
		stable := r.rel.backend(Stable)
		if !failedOver && r.backend != stable && !r.bodySent && !r.hasBody && retryableMethod(r.method) {
			failedOver, fresh = true, false
			r.backend, r.ep = stable, stable.pick()
			if r.ep == nil {
				r.ep = stable.any()
			}
			continue
		}
		keep = keep && !r.hasBody // the body may be half read
		code, reason, msg := upstreamUnavailable(err, r.backend.revision)
		fc.writeError(code, reason, msg, r.backend.revision, keep)
		return keep
	}
	r.ep.succeeded()
	return fc.relay(r, uc, keep)
}

// upstreamUnavailable is the answer when no upstream of revision could
// answer: 504 after a timeout, else 502 (errorStatus).
func upstreamUnavailable(err error, revision string) (code int, reason, msg string) {
	code = errorStatus(err)
	return code, http.StatusText(code), "kanaria: upstream " + revision + " unavailable"
}

// errClientBody marks a failure reading the client's request body.
type errClientBody struct{ err error }

func (e errClientBody) Error() string { return "client body: " + e.err.Error() }

// staleConn: the error a reused keep-alive connection gives when the
// upstream had closed it while idle.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// retryableMethod: methods that may be sent twice (see retryable).
func retryableMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE":
		return true
	}
	return false
}

// writeUpstreamHead writes the head of the request in h as it goes
// upstream: the client's fields minus hop-by-hop and router-owned ones,
// X-Forwarded-* with remoteIP, the version stamp and framing.
func writeUpstreamHead(bw *bufio.Writer, h *h1.Head, r *fastReq, remoteIP string) {
	t := r.t
	bw.Write(r.method)
	bw.WriteByte(' ')
	if p := r.ep.url.Path; p != "" && p != "/" && len(r.target) > 0 && r.target[0] == '/' {
		bw.WriteString(strings.TrimSuffix(p, "/"))
	}
	bw.Write(originForm(r.target))
	bw.WriteString(" HTTP/1.1\r\n")
	var host []byte
	nXFF := 0
	for i := range h.Fields {
		f := &h.Fields[i]
		if f.Hop {
			continue
		}
		name := h.Bytes(f.Name)
		switch {
		case h1.EqualFold(name, "Host"):
			host = h.Bytes(f.Value)
		case h1.EqualFold(name, "X-Forwarded-For"):
			nXFF++
			continue // re-written below with the client appended
		case h1.EqualFold(name, "X-Forwarded-Host"), h1.EqualFold(name, "X-Forwarded-Proto"),
			h1.EqualFold(name, t.upstreamVersionHeader), h1.EqualFold(name, t.ovr.secretHeader), h1.EqualFold(name, "Expect"):
			continue
		}
		bw.Write(name)
		bw.WriteString(": ")
		bw.Write(h.Bytes(f.Value))
		bw.WriteString("\r\n")
	}
	if host == nil {
		writeFieldString(bw, "Host", r.ep.url.Host)
	}
	bw.WriteString("X-Forwarded-For: ")
	if nXFF > 0 {
		for i := range h.Fields {
			if f := &h.Fields[i]; h1.EqualFold(h.Bytes(f.Name), "X-Forwarded-For") {
				bw.Write(h.Bytes(f.Value))
				bw.WriteString(", ")
			}
		}
	}
	bw.WriteString(remoteIP)
	bw.WriteString("\r\n")
	if host != nil {
		writeField(bw, "X-Forwarded-Host", host)
	}
	bw.WriteString("X-Forwarded-Proto: http\r\n")
	writeFieldString(bw, t.upstreamVersionHeader, r.backend.revision)
	if r.upgrade {
		bw.WriteString("Connection: Upgrade\r\n")
		writeField(bw, "Upgrade", h.Bytes(h.Fields[h.Upgrade].Value))
	}
	switch {
	case r.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	case h.Lengths == 1:
		writeLength(bw, h.Length)
		bw.WriteString("\r\n")
	default:
		bw.WriteString("\r\n")
	}
}

// send writes the upstream request: its head (writeUpstreamHead), then
// the client's body.
func (fc *fastConn) send(r *fastReq, uc *upConn) error {
	h, bw := &fc.req, uc.bw
	writeUpstreamHead(bw, h, r, fc.remoteIP)
	if r.hasBody {
		fc.rdl.set(fc.c, time.Time{}) // a body may take its time
		r.bodySent = true
		var err error
		if r.chunked {
			err = copyChunked(bw, fc.br, true)
		} else {
			err = copyFixed(bw, fc.br, h.Length)
		}
		if err != nil {
			var werr errDstWrite
			if errors.As(err, &werr) {
				return werr.err
			}
			return errClientBody{err}
		}
	}
	return bw.Flush()
}

// originForm turns an absolute-form target into origin form.
func originForm(target []byte) []byte {
	if len(target) > 0 && target[0] == '/' || string(target) == "*" {
		return target
	}
	if i := bytes.Index(target, []byte("://")); i > 0 {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return []byte("/")
	}
	return target
}
