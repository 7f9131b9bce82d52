package router

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// The goroutine path (conn_*.go): a goroutine per client connection that
// reads with blocking calls through bufio buffers, for everything the
// event loop does not serve itself (see loop.go) and for every connection
// with HTTPServer "goroutines". Request bodies of any size and framing,
// Expect: 100-continue, upgrades (a tunnel after 101), 1xx and
// read-until-close answers, TLS and named upstreams are all handled here,
// with the same rules as the loop (request.go, heads.go, internal/h1).

// Client connection states; a connection is only closed from outside
// (shutdown) while idle, by winning the CAS from connIdle.
const (
	connActive int32 = iota
	connIdle
	connClosed
)

// conn is one client connection on the goroutine path and its reused
// buffers.
type conn struct {
	s        *h1Server
	c        net.Conn
	br       *bufio.Reader // nil only while waiting idle without a buffer
	src      connSource    // br's source
	bw       *bufio.Writer
	req      h1.Head
	rdl      readDeadline // idle and header deadlines, kept across requests
	state    atomic.Int32
	remoteIP string // for X-Forwarded-For, computed once per connection
	tls      bool   // the connection is TLS (HTTP/1.1 after ALPN)
	handedOn bool   // given to the HTTP/2 server: not this goroutine's to close
	// resume, when set, finishes a request the event loop began (relaying
	// an answer it handed over) before the connection's next request.
	resume func(fc *conn) bool
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// serve reads and proxies requests until the connection ends.
func (fc *conn) serve() {
	s := fc.s
	defer func() {
		if !fc.handedOn {
			fc.c.Close()
		}
		if fc.br != nil { // nil after a bufferless idle wait that failed
			fc.br.Reset(nil)
			readerPool.Put(fc.br)
		}
		fc.releaseWriter()
		s.mu.Lock()
		delete(s.conns, fc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	if fc.remoteIP == "" {
		fc.remoteIP = remoteHost(fc.c)
	}
	if tc, ok := fc.c.(*tls.Conn); ok && !fc.handshake(tc) {
		return
	}
	fc.src.c = fc.c
	fc.br = readerPool.Get().(*bufio.Reader)
	fc.br.Reset(&fc.src)
	to := &s.cfg.Timeouts
	for {
		if fc.resume == nil && fc.br.Buffered() == 0 {
			fc.releaseWriter() // an idle connection holds only its read buffer
			fc.state.Store(connIdle)
			if s.closing.Load() {
				return
			}
			if !fc.waitIdle(to.Idle.D()) {
				return
			}
			if !fc.state.CompareAndSwap(connIdle, connActive) {
				return // shutdown closed it
			}
		}
		if fc.bw == nil {
			fc.bw = writerPool.Get().(*bufio.Writer)
			fc.bw.Reset(fc.c)
		}
		var keep bool
		if fc.resume != nil {
			keep = fc.resume(fc)
			fc.resume = nil
		} else {
			if !headComplete(fc.br) {
				fc.rdl.set(fc.c, time.Now().Add(to.ReadHeader.D()))
			}
			if err := h1.ReadHead(fc.br, &fc.req, s.headLimit); err != nil {
				switch err {
				case h1.ErrTooLarge:
					fc.refuse(431, "Request Header Fields Too Large", "kanaria: request header fields too large")
				case h1.ErrMalformed:
					fc.refuse(400, "Bad Request", "kanaria: malformed request header")
				}
				return
			}
			keep = fc.serveOne()
		}
		if !keep || s.closing.Load() {
			fc.bw.Flush()
			fc.closeGently()
			return
		}
		if fc.br.Buffered() == 0 { // a pipelined request's answer can share the write
			if fc.bw.Flush() != nil {
				return
			}
		}
	}
}

// releaseWriter returns the (flushed) write buffer to the pool.
func (fc *conn) releaseWriter() {
	if fc.bw != nil {
		fc.bw.Reset(nil)
		writerPool.Put(fc.bw)
		fc.bw = nil
	}
}

// headComplete reports whether a whole header block is already buffered,
// in which case no header deadline is needed (the common case: one segment).
func headComplete(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	_, end := h1.FindHead(b, 0)
	return end > 0
}

// closeGently half-closes and drains briefly before closing, so a client
// still sending (an unread body, a refused pipeline) gets the answer
// instead of a reset that would destroy it.
// Over TLS a close_notify goes first, and what follows is drained from
// the socket undecrypted.
func (fc *conn) closeGently() {
	tc, ok := fc.c.(*net.TCPConn)
	if c, isTLS := fc.c.(*tls.Conn); isTLS {
		c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		c.CloseWrite()
		tc, ok = c.NetConn().(*net.TCPConn)
	}
	if !ok {
		return
	}
	tc.CloseWrite()
	fc.rdl.set(tc, time.Now().Add(500*time.Millisecond))
	var buf [4096]byte
	for n := 0; n < 256<<10; {
		k, err := tc.Read(buf[:])
		n += k
		if err != nil {
			break
		}
	}
}

// refuse answers a request that cannot be served and ends the connection.
func (fc *conn) refuse(code int, reason, msg string) {
	fc.writeError(code, reason, msg, "", false)
	fc.bw.Flush()
	fc.closeGently()
}

// writeError answers with a short plain-text body, as http.Error does. A
// non-empty revision stamps the version that was tried, so errors can be
// attributed.
func (fc *conn) writeError(code int, reason, msg, revision string, keep bool) {
	writeErrorTo(fc.bw, fc.s.r.tbl.Load().versionHeader, code, reason, msg, revision, keep)
}

// handshake completes the TLS handshake within the header timeout. A
// connection that negotiated h2 goes to the HTTP/2 server. It reports
// whether fc goes on serving HTTP/1.1.
func (fc *conn) handshake(tc *tls.Conn) bool {
	tc.SetDeadline(time.Now().Add(fc.s.cfg.Timeouts.ReadHeader.D()))
	err := tc.Handshake()
	tc.SetDeadline(time.Time{})
	if err != nil {
		return false
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		fc.handedOn = true
		fc.s.h2.serve(tc)
		return false
	}
	fc.tls = true
	return true
}
