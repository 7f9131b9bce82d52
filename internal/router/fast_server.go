package router

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// fastServer is the fast front end's listener side: one goroutine per
// client connection, keep-alive, graceful drain. It is chosen by Serve for
// plain-HTTP listeners of a *Router (see Config.HTTPServer).
type fastServer struct {
	r         *Router
	cfg       Config // defaults applied
	headLimit int    // like net/http: MaxHeaderBytes plus 4 KiB of slack
	closing   atomic.Bool
	mu        sync.Mutex
	conns     map[*fastConn]struct{}
	wg        sync.WaitGroup
	loops     []*evLoop // nil: every connection gets a goroutine
	nextLoop  int
}

// Client connection states; a connection is only closed from outside
// (shutdown) while idle, by winning the CAS from connIdle.
const (
	connActive int32 = iota
	connIdle
	connClosed
)

// fastConn is one client connection and its reused buffers.
type fastConn struct {
	s        *fastServer
	c        net.Conn
	br       *bufio.Reader // nil only while waiting idle without a buffer
	src      connSource    // br's source
	bw       *bufio.Writer
	req      h1.Head
	rdl      readDeadline // idle and header deadlines, kept across requests
	state    atomic.Int32
	remoteIP string // for X-Forwarded-For, computed once per connection
	// resume, when set, finishes a request the event loop began (relaying
	// an answer it handed over) before the connection's next request.
	resume func(fc *fastConn) bool
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// serveFast runs the fast front end on ln until ctx ends, then drains like
// Serve does for net/http: stop accepting, close idle connections, let
// in-flight requests finish within Timeouts.Shutdown, cut the rest.
func serveFast(ctx context.Context, ln net.Listener, r *Router, cfg Config) error {
	s := &fastServer{r: r, cfg: cfg, headLimit: cfg.MaxHeaderBytes + 4096, conns: map[*fastConn]struct{}{}}
	if cfg.HTTPServer != HTTPServerGoroutines {
		s.loops = startEvLoops(s, ln)
	}
	done := make(chan error, 1)
	go func() { done <- s.accept(ln) }()
	select {
	case err := <-done:
		s.closing.Store(true)
		s.closeConns(true)
		s.wg.Wait()
		return err
	case <-ctx.Done():
	}
	s.closing.Store(true)
	ln.Close()
	<-done
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	tick := time.NewTicker(50 * time.Millisecond) // connections turning idle are closed on the next tick
	defer tick.Stop()
	budget := time.NewTimer(cfg.Timeouts.Shutdown.D())
	defer budget.Stop()
	for {
		s.closeConns(false)
		select {
		case <-drained:
			return nil
		case <-tick.C:
		case <-budget.C:
			s.closeConns(true)
			<-drained
			return context.DeadlineExceeded
		}
	}
}

// accept runs the accept loop; temporary errors (EMFILE) back off like
// net/http's. It returns nil once shutdown closed the listener.
func (s *fastServer) accept(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var te interface{ Temporary() bool } // EMFILE and the like
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if len(s.loops) > 0 {
			l := s.loops[s.nextLoop%len(s.loops)]
			s.nextLoop++
			if l.adopt(c) {
				continue
			}
		}
		s.serveConn(c, "", nil, nil)
	}
}

// serveConn serves c on a goroutine of its own: the bytes in pre first,
// and resume (if set) before the first request read. remoteIP may be left
// empty to be taken from c.
func (s *fastServer) serveConn(c net.Conn, remoteIP string, pre []byte, resume func(*fastConn) bool) {
	fc := &fastConn{s: s, c: c, remoteIP: remoteIP, resume: resume}
	fc.src.pre = pre
	fc.state.Store(connActive)
	s.mu.Lock()
	s.conns[fc] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go fc.serve()
}

// closeConns closes idle connections, or all of them when force is set.
func (s *fastServer) closeConns(force bool) {
	for _, l := range s.loops {
		l.shutdown(force)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if force || fc.state.CompareAndSwap(connIdle, connClosed) {
			fc.c.Close()
		}
	}
}

// serve reads and proxies requests until the connection ends.
func (fc *fastConn) serve() {
	s := fc.s
	defer func() {
		fc.c.Close()
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

// remoteHost is c's peer address without the port, for X-Forwarded-For.
func remoteHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// releaseWriter returns the (flushed) write buffer to the pool.
func (fc *fastConn) releaseWriter() {
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
func (fc *fastConn) closeGently() {
	if tc, ok := fc.c.(*net.TCPConn); ok {
		tc.CloseWrite()
		fc.rdl.set(fc.c, time.Now().Add(500*time.Millisecond))
		var buf [4096]byte
		for n := 0; n < 256<<10; {
			k, err := fc.c.Read(buf[:])
			n += k
			if err != nil {
				break
			}
		}
	}
}

// refuse answers a request that cannot be served and ends the connection.
func (fc *fastConn) refuse(code int, reason, msg string) {
	fc.writeError(code, reason, msg, "", false)
	fc.bw.Flush()
	fc.closeGently()
}
