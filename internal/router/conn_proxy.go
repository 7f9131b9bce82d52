package router

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// serveOne proxies the request in fc.req. It reports whether the client
// connection may carry another request.
func (fc *conn) serveOne() bool {
	h := &fc.req
	r, refused := admit(fc.s.r.tbl.Load(), h)
	if refused.code != 0 {
		fc.writeError(refused.code, refused.reason, refused.msg, "", refused.keep)
		return refused.keep
	}
	r.start, r.tls = time.Now(), fc.tls
	r.shadow = captureH1(&r, h) // nil unless stable serves a request chosen for mirroring
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

// proxy sends r upstream (failing over to stable on a connection error when
// that is safe), relays the answer and records it. It reports whether the
// client connection may be kept.
func (fc *conn) proxy(r *request, keep bool) bool {
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
		r.shadow.abandon()
		code, reason, msg := upstreamUnavailable(err, r.backend.revision)
		fc.writeError(code, reason, msg, r.backend.revision, keep)
		return keep
	}
	r.ep.succeeded()
	return fc.relay(r, uc, keep)
}

// errClientBody marks a failure reading the client's request body.
type errClientBody struct{ err error }

func (e errClientBody) Error() string { return "client body: " + e.err.Error() }

// send writes the upstream request: its head (writeUpstreamHead), then
// the client's body.
func (fc *conn) send(r *request, uc *upConn) error {
	h, bw := &fc.req, uc.bw
	writeUpstreamHead(bw, h, r, fc.remoteIP)
	if r.hasBody {
		fc.rdl.set(fc.c, time.Time{}) // a body may take its time
		r.bodySent = true
		var err error
		switch {
		case r.chunked:
			err = copyChunked(bw, fc.br, true, nil)
		case r.shadow != nil && r.shadow.req.Body == nil:
			err = fc.sendKept(bw, r, h.Length)
		default:
			err = copyFixed(bw, fc.br, h.Length, nil)
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

// sendKept sends a mirrored request's body of n bytes (at most the
// mirror's MaxBodyBytes: captureH1 checked) and keeps it for the copies.
func (fc *conn) sendKept(bw *bufio.Writer, r *request, n int64) error {
	buf := make([]byte, n)
	if _, err := io.ReadFull(fc.br, buf); err != nil {
		return errClientBody{err}
	}
	r.shadow.requestBody(buf)
	if _, err := bw.Write(buf); err != nil {
		return errDstWrite{err}
	}
	return nil
}
