//go:build linux

package router

import (
	"bufio"
	"io"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// readResponse reads u's answer and relays it to the client as it comes.
func (l *evLoop) readResponse(u *evUpstream) {
	c := u.client
	for u.fd >= 0 && u.client == c {
		if u.r < u.w {
			if u.state == uAwait {
				start, end := h1.FindHead(u.in[u.r:u.w], 0)
				if end > 0 {
					u.r += start
					l.startAnswer(u, end-start)
					continue
				}
				if u.w-u.r == len(u.in) {
					l.handOffAnswer(c, u) // a large head
					return
				}
			} else {
				done, bad := l.relayBody(u, c)
				if bad {
					l.brokenAnswer(u)
					return
				}
				if done {
					l.finishAnswer(u)
					return
				}
				if c.pending() >= 64<<10 { // the client is slower: let it catch up
					u.paused = true
					l.flushClient(c)
					return
				}
			}
		}
		if u.eof {
			if u.state == uAwait {
				err := u.err
				if err == nil {
					err = io.EOF
				}
				l.upstreamFailed(c, u, err)
				return
			}
			l.brokenAnswer(u)
			return
		}
		if !u.readable {
			if u.state == uBody {
				l.flushClient(c) // a streaming body goes out as it comes
			}
			return
		}
		l.fill(&u.evSock)
	}
}

// startAnswer takes the answer's head of end bytes at u.in[u.r:]: a final
// answer with a length, a chunked one (to an HTTP/1.1 client) or one with
// no body is relayed by the loop, anything else by the goroutine path.
func (l *evLoop) startAnswer(u *evUpstream, end int) {
	c, r := u.client, &u.client.fr
	h := &u.resp
	h.Buf = u.in[u.r : u.r+end : u.r+end]
	if err := h.Parse(); err != nil {
		l.upstreamFailed(c, u, err)
		return
	}
	r.ep.succeeded()
	code, ok := h1.StatusCode(h.Bytes(h.First))
	kind, framed := h.ResponseBody(code, r.head)
	if !ok || code < 200 || !framed || kind == h1.BodyUntilClose || kind == h1.BodyChunked && r.http10 {
		l.handOffAnswer(c, u) // interim answers, read-until-close, and errors relay decides
		return
	}
	u.reuse = reusable(r, h, kind)
	r.shadow.answerH1(code, h)
	bw := l.writerFor(&c.evSock)
	writeResponseHead(bw, r, h, code, kind, r.keep, false)
	bw.Flush()
	u.r += end
	u.code, u.left, u.state, u.deadline = code, 0, uBody, time.Time{}
	u.chunked, u.chunks = kind == h1.BodyChunked, h1.Chunked{}
	if kind == h1.BodyLength {
		u.left = h.Length
	}
	if kind != h1.BodyChunked && u.left == 0 {
		l.finishAnswer(u)
	}
}

// finishAnswer ends a relayed answer: it is recorded, the upstream
// connection goes back to the pool, and the client moves on.
func (l *evLoop) finishAnswer(u *evUpstream) {
	c := u.client
	l.s.r.tel.loop.Served.Add(1)
	now := l.record(c, u.code)
	c.fr.shadow.done()
	c.fr.shadow = nil
	u.client, c.up = nil, nil
	if u.reuse && u.r == u.w && !u.eof { // bytes past the answer: not to be trusted
		u.state, u.reused, u.idleAt = uIdle, true, now
		l.putBuffer(&u.evSock)
		if len(u.pool.idle) < maxIdlePerEndpoint {
			u.pool.idle = append(u.pool.idle, u)
			l.setDeadline(&u.evSock, now.Add(c.fr.t.cfg.Timeouts.Idle.D()))
		} else {
			l.forget(&u.evSock)
		}
	} else {
		l.closeUpstream(u)
	}
	l.finishResponse(c, c.fr.keep)
}

// brokenAnswer ends an answer whose body broke off or lost its framing.
// Half a body was sent: the only honest signal left is to close the client
// connection, after what was relayed (as relay does).
func (l *evLoop) brokenAnswer(u *evUpstream) {
	c := u.client
	l.record(c, u.code)
	c.fr.shadow.abandon()
	c.fr.shadow = nil
	u.client, c.up = nil, nil
	l.closeUpstream(u)
	l.finishResponse(c, false)
}

// record counts c's request as answered with code (0: no answer) now.
func (l *evLoop) record(c *evClient, code int) time.Time {
	now := time.Now()
	c.fr.backend.stats.record(now, now.Sub(c.fr.start), code)
	return now
}

// upstreamFailed handles a failed attempt to get an answer for c (u is
// the connection that failed, nil if none was made), the way proxy does:
// a stale pooled connection is retried on a fresh one, a failed canary
// fails over to stable when the method allows, else 502 or 504.
func (l *evLoop) upstreamFailed(c *evClient, u *evUpstream, err error) {
	r := &c.fr
	if u != nil {
		c.up, u.client = nil, nil
		stale := u.reused && !r.bodySent
		l.closeUpstream(u)
		if stale && staleConn(err) {
			c.fresh = true // the upstream closed an idle connection: not a failure
			l.sendUpstream(c)
			return
		}
	}
	r.ep.failed(&r.rel.health)
	l.record(c, 0)
	stable := r.rel.backend(Stable)
	if !c.failedOver && r.backend != stable && !r.hasBody && retryableMethod(r.method) {
		c.failedOver, c.fresh = true, false
		r.backend, r.ep = stable, stable.pick()
		if r.ep == nil {
			r.ep = stable.any()
		}
		l.sendUpstream(c)
		return
	}
	code, reason, msg := upstreamUnavailable(err, r.backend.revision)
	l.answerError(c, code, reason, msg, r.backend.revision)
}

// handOffAnswer gives c and u to the goroutine path in the middle of c's
// request: u's answer (from its head on) is relayed there, then the
// connection carries on as any other.
func (l *evLoop) handOffAnswer(c *evClient, u *evUpstream) {
	l.s.r.tel.loop.HandedOff.Add(1)
	preC := append([]byte(nil), c.in[c.r:c.w]...)
	preU := append([]byte(nil), u.in[u.r:u.w]...)
	r := c.fr
	r.method, r.target = nil, nil // views of c's buffer, which goes back now
	c.up, u.client = nil, nil
	uconn, err := l.release(&u.evSock)
	if err != nil {
		l.closeClient(c)
		return
	}
	l.nClients--
	nc, err := l.release(&c.evSock)
	if err != nil {
		uconn.Close()
		return
	}
	uc := &upConn{c: uconn, reused: true, bw: bufio.NewWriterSize(uconn, 4096)}
	uc.br = bufio.NewReaderSize(&connSource{c: uconn, pre: preU}, 4096)
	l.s.serveConn(nc, c.remoteIP, preC, func(fc *conn) bool {
		if err := h1.ReadHead(uc.br, &uc.resp, 1<<20); err != nil {
			uc.c.Close()
			return fc.badGateway(&r, r.keep)
		}
		return fc.relay(&r, uc, r.keep)
	})
}
