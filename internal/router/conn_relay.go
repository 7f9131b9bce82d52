package router

import (
	"io"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// relay writes the upstream response in uc.resp to the client, stamped,
// then its body, records the request and returns uc to the pool when it
// can carry another request. It reports whether the client connection may
// be kept.
func (fc *conn) relay(r *request, uc *upConn, keep bool) bool {
	resp := &uc.resp
	code, ok := h1.StatusCode(resp.Bytes(resp.First))
	for ok && code >= 100 && code < 200 && code != 101 {
		// Interim answers (103 Early Hints, an unasked 100) pass through.
		if !r.http10 {
			fc.writeHead(r, resp, code, h1.BodyNone, true, false)
			if fc.bw.Flush() != nil {
				uc.c.Close()
				return false
			}
		}
		if err := h1.ReadHead(uc.br, resp, 1<<20); err != nil {
			uc.c.Close()
			return fc.badGateway(r, keep)
		}
		code, ok = h1.StatusCode(resp.Bytes(resp.First))
	}
	if !ok || code == 101 && !r.upgrade {
		uc.c.Close()
		return fc.badGateway(r, keep)
	}
	if code == 101 {
		fc.writeHead(r, resp, code, h1.BodyNone, true, true)
		fc.tunnel(uc)
		now := time.Now()
		r.backend.stats.record(now, now.Sub(r.start), code)
		return false
	}

	kind, ok := resp.ResponseBody(code, r.head)
	if !ok {
		uc.c.Close()
		return fc.badGateway(r, keep)
	}
	r.shadow.answerH1(code, resp)
	reuse := reusable(r, resp, kind)
	if kind == h1.BodyUntilClose || kind == h1.BodyChunked && r.http10 {
		keep = false // the end of the body is the end of the connection
	}
	fc.writeHead(r, resp, code, kind, keep, false)

	if !uc.rdl.at.IsZero() && (kind == h1.BodyChunked || kind == h1.BodyUntilClose || kind == h1.BodyLength && int64(uc.br.Buffered()) < resp.Length) {
		uc.rdl.set(uc.c, time.Time{}) // the body may stream for as long as it likes
	}
	var err error
	switch kind {
	case h1.BodyLength:
		err = copyFixed(fc.bw, uc.br, resp.Length, r.shadow)
	case h1.BodyChunked:
		err = copyChunked(fc.bw, uc.br, !r.http10, r.shadow)
	case h1.BodyUntilClose:
		err = copyUntilEOF(fc.bw, uc.br, r.shadow)
	}
	now := time.Now()
	r.backend.stats.record(now, now.Sub(r.start), code)
	if err != nil {
		// Half a response was sent: the only honest signal left is to
		// close the client connection.
		r.shadow.abandon()
		uc.c.Close()
		return false
	}
	r.shadow.done()
	if reuse {
		r.ep.pool.put(uc, now)
	} else {
		uc.c.Close()
	}
	return keep
}

// badGateway answers a malformed or missing upstream response.
func (fc *conn) badGateway(r *request, keep bool) bool {
	r.shadow.abandon()
	now := time.Now()
	r.backend.stats.record(now, now.Sub(r.start), 502)
	keep = keep && !r.hasBody
	fc.writeError(502, "Bad Gateway", "kanaria: bad response from upstream "+r.backend.revision, r.backend.revision, keep)
	return keep
}

// writeHead writes the response head to the client: the upstream's status
// and end-to-end fields, the version stamp, a sticky cookie on a first
// visit, and framing for how the body will be sent.
func (fc *conn) writeHead(r *request, resp *h1.Head, code int, kind h1.Body, keep, upgrade bool) {
	writeResponseHead(fc.bw, r, resp, code, kind, keep, upgrade)
}

// tunnel joins client and upstream after a 101 (WebSocket and other
// upgrades). Bytes already buffered on either side go first. When either
// direction ends both connections are closed, as httputil.ReverseProxy
// does: a half-open tunnel would hold the goroutines forever.
func (fc *conn) tunnel(uc *upConn) {
	if fc.bw.Flush() != nil {
		uc.c.Close()
		return
	}
	fc.rdl.set(fc.c, time.Time{})
	uc.rdl.set(uc.c, time.Time{})
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(fc.c, uc.br) // bufio.Reader.WriteTo: buffered bytes, then the socket
		done <- struct{}{}
	}()
	go func() {
		io.Copy(uc.c, fc.br)
		done <- struct{}{}
	}()
	<-done
	uc.c.Close()
	fc.c.Close()
	<-done
}
