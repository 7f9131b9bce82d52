//go:build linux

package router

import (
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
	"golang.org/x/sys/unix"
)

// evClient is a client connection served by the event loop.
type evClient struct {
	evSock
	remoteIP   string
	state      clientState
	req        h1.Head // the request being served; its Buf is a view of in
	fr         request // its routing
	body       []byte  // its body, a view of in (only when the whole body came with the head)
	up         *evUpstream
	failedOver bool // the request went to stable after the canary failed
	fresh      bool // the next upstream attempt dials (a reused one was stale)
	drained    int  // bytes discarded while closing gently
}

type clientState uint8

const (
	cIdle     clientState = iota // between requests, nothing buffered
	cHead                        // part of a request head has arrived
	cUpstream                    // a request is upstream; its answer is being relayed
	cClosing                     // half closed, discarding what the client still sends
)

func (c *evClient) sock() *evSock { return &c.evSock }

func (c *evClient) ready(l *evLoop, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.readable = true
	}
	if c.pending() > 0 {
		l.flushClient(c)
		return
	}
	switch c.state {
	case cIdle, cHead:
		l.readRequest(c)
	case cClosing:
		l.discard(c)
	}
	// cUpstream: the client's next bytes wait until the answer is done.
}

func (c *evClient) expire(l *evLoop) {
	if c.state == cUpstream {
		return // upstream deadlines govern a request in flight
	}
	l.closeClient(c) // idle, header or gentle-close timeout
}

// clientIdle puts c between requests: the idle timeout runs, and a
// connection with nothing buffered gives its read buffer back.
func (l *evLoop) clientIdle(c *evClient) {
	c.state = cIdle
	if c.r == c.w {
		l.putBuffer(&c.evSock)
	}
	l.setDeadline(&c.evSock, l.now.Add(l.s.cfg.Timeouts.Idle.D()))
}

// readRequest reads until a whole request head is buffered, then starts
// it; it returns when the socket has nothing more or a request is upstream.
func (l *evLoop) readRequest(c *evClient) {
	for c.fd >= 0 && (c.state == cIdle || c.state == cHead) {
		if c.r < c.w {
			start, end := h1.FindHead(c.in[c.r:c.w], 0)
			if end > 0 {
				c.r += start
				l.startRequest(c, end-start)
				continue
			}
			if c.w-c.r == len(c.in) {
				l.handOff(c) // a large head: the goroutine path allows MaxHeaderBytes
				return
			}
		}
		if c.eof {
			l.closeClient(c)
			return
		}
		if !c.readable {
			if c.r == c.w {
				if c.state != cIdle {
					l.clientIdle(c)
				}
			} else if c.state == cIdle {
				c.state = cHead
				l.setDeadline(&c.evSock, l.now.Add(l.s.cfg.Timeouts.ReadHeader.D()))
			}
			return
		}
		l.fill(&c.evSock)
	}
}

// startRequest serves the head of end bytes at c.in[c.r:]: upstream from
// the loop when it is the common case, else on the goroutine path.
func (l *evLoop) startRequest(c *evClient, end int) {
	h := &c.req
	h.Buf = c.in[c.r : c.r+end : c.r+end]
	if h.Parse() != nil {
		l.handOff(c)
		return
	}
	t := l.s.r.tbl.Load()
	r, refused := admit(t, h)
	if refused.code != 0 || r.upgrade || !l.canServe(t, r.rel) {
		l.handOff(c)
		return
	}
	var body []byte
	if r.hasBody {
		// A body the loop already holds whole, with a length, goes upstream
		// with the head; a chunked, large or expected (100-continue) one is
		// the goroutine path's, which reads it as it comes.
		_, expect := h.Get("Expect")
		if r.chunked || expect || int64(c.w-c.r-end) < h.Length {
			l.handOff(c)
			return
		}
		body = c.in[c.r+end : c.r+end+int(h.Length)]
	}
	r.start = l.now
	if r.shadow = captureH1(&r, h); r.shadow != nil { // nil unless stable serves a request chosen for mirroring
		r.shadow.requestBody(body)
	}
	if b := r.pickEndpoint(); b != nil {
		b.stats.record(l.now, 0, 0)
	}
	c.r += end + len(body)
	c.fr, c.body, c.failedOver, c.fresh = r, body, false, false
	c.state = cUpstream
	c.deadline = time.Time{}
	l.sendUpstream(c)
}

// canServe reports whether the loop can take requests for rel: every
// endpoint of it is plain HTTP at an IP address, so a dial never waits for
// a resolver or a TLS handshake.
func (l *evLoop) canServe(t *table, rel *release) bool {
	if t != l.tbl {
		l.tableChanged(t)
	}
	ok, seen := l.loopable[rel]
	if !seen {
		ok = true
		for _, b := range rel.versions {
			if b == nil {
				continue
			}
			for _, e := range b.endpoints {
				ok = ok && l.pool(e) != nil
			}
		}
		l.loopable[rel] = ok
	}
	return ok
}

// flushClient writes c's pending output; once all is out it moves on:
// more of a relayed body, the connection's close, or its next request.
func (l *evLoop) flushClient(c *evClient) {
	if !l.flush(&c.evSock) {
		if c.eof {
			l.closeClient(c)
		}
		return
	}
	switch c.state {
	case cUpstream:
		if u := c.up; u != nil && u.paused {
			u.paused = false
			l.readResponse(u)
		}
	case cIdle, cHead:
		l.readRequest(c)
	case cClosing:
		l.closeGently(c)
	}
}

// finishResponse ends the request on c once its answer is formatted:
// the next request, or a gentle close when the connection cannot be kept.
func (l *evLoop) finishResponse(c *evClient, keep bool) {
	c.up = nil
	if !keep || l.s.closing.Load() {
		c.state = cClosing
	} else {
		l.clientIdle(c)
	}
	l.flushClient(c)
}

// closeGently half-closes c and discards what it still sends for a while,
// so that a client still sending gets the answer rather than a reset that
// would destroy it (conn.closeGently, on the loop).
func (l *evLoop) closeGently(c *evClient) {
	c.state = cClosing
	unix.Shutdown(c.fd, unix.SHUT_WR)
	l.setDeadline(&c.evSock, l.now.Add(500*time.Millisecond))
	l.discard(c)
}

func (l *evLoop) discard(c *evClient) {
	for c.readable && !c.eof && c.drained < 256<<10 {
		c.r, c.w = 0, 0
		l.fill(&c.evSock)
		c.drained += c.w
	}
	if c.eof || c.drained >= 256<<10 {
		l.closeClient(c)
	}
}

// closeClient closes c and whatever upstream connection it was using.
func (l *evLoop) closeClient(c *evClient) {
	if c.fd < 0 {
		return
	}
	if u := c.up; u != nil {
		c.up = nil
		l.closeUpstream(u)
	}
	if c.state == cUpstream {
		c.fr.shadow.abandon()
		c.fr.shadow = nil
	}
	l.forget(&c.evSock)
	l.nClients--
}

// handOff gives c, with what it has sent so far, to the goroutine path,
// before anything of its current request was done.
func (l *evLoop) handOff(c *evClient) {
	l.s.r.tel.loop.HandedOff.Add(1)
	pre := append([]byte(nil), c.in[c.r:c.w]...)
	l.nClients--
	nc, err := l.release(&c.evSock)
	if err != nil {
		return
	}
	l.s.serveConn(nc, c.remoteIP, pre, nil)
}

// answerError answers the request on c itself, as proxy does when no
// upstream could take it.
func (l *evLoop) answerError(c *evClient, code int, reason, msg, revision string) {
	l.s.r.tel.loop.Served.Add(1)
	c.fr.shadow.abandon()
	c.fr.shadow = nil
	keep := c.fr.keep
	bw := l.writerFor(&c.evSock)
	writeErrorTo(bw, c.fr.t.versionHeader, code, reason, msg, revision, keep)
	bw.Flush()
	l.finishResponse(c, keep)
}
