package router

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Serve runs h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish within
// Timeouts.Shutdown, and closes what is left after that. It returns nil
// after a clean drain, the drain's error if requests had to be cut, or the
// listener's error if serving failed.
//
// A listener serving a *Router gets kanaria's own HTTP/1.1 server
// (h1Server: the event loop, loop_*.go, with the goroutine path, conn_*.go,
// for what the loop hands over; or the goroutine path alone with
// HTTPServer "goroutines"). With cfg.TLS the goroutine path serves every
// HTTP/1.1 connection over crypto/tls and net/http's HTTP/2 server those
// that negotiate h2 (tls.go). HTTPServer "stdlib" and other handlers (the
// admin API) use net/http for everything (serveStdlib, stdlib_*.go).
// Every front end applies the same HTTP/1.1 framing rules, internal/h1.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
	cfg = cfg.WithDefaults()
	if r, ok := h.(*Router); ok && cfg.HTTPServer != HTTPServerStdlib {
		return serveH1(ctx, ln, r, cfg)
	}
	return serveStdlib(ctx, ln, h, cfg)
}

// h1Server is kanaria's own HTTP/1.1 server, the listener side both of its
// front ends share: accepting (beside the loops' own accepts), handing
// each connection to an event loop or a goroutine of its own, keep-alive
// and graceful drain, and for a TLS listener the handshake and the
// hand-off of h2 connections. Serve chooses it for the listeners of a
// *Router unless Config.HTTPServer is "stdlib".
type h1Server struct {
	r         *Router
	cfg       Config // defaults applied
	headLimit int    // like net/http: MaxHeaderBytes plus 4 KiB of slack
	closing   atomic.Bool
	mu        sync.Mutex
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
	loops     []*evLoop // nil: every connection gets a goroutine
	nextLoop  int
	tlsCfg    *tls.Config // set: every connection is TLS (no loops)
	h2        *h2Front    // serves the TLS connections that negotiate h2
}

// serveH1 runs h1Server on ln until ctx ends, then drains like
// Serve does for net/http: stop accepting, close idle connections, let
// in-flight requests finish within Timeouts.Shutdown, cut the rest.
func serveH1(ctx context.Context, ln net.Listener, r *Router, cfg Config) error {
	s := &h1Server{r: r, cfg: cfg, headLimit: cfg.MaxHeaderBytes + 4096, conns: map[*conn]struct{}{}}
	if cfg.TLS != nil {
		certs, err := routerCerts(r, cfg)
		if err != nil {
			ln.Close()
			return err
		}
		s.tlsCfg = serverTLSConfig(certs, true)
		s.h2 = newH2Front(r, cfg)
	} else if cfg.HTTPServer != HTTPServerGoroutines {
		s.loops = startEvLoops(s, ln)
	}
	done := make(chan error, 1)
	go func() { done <- s.accept(ln) }()
	select {
	case err := <-done:
		s.closing.Store(true)
		s.closeConns(true)
		s.wg.Wait()
		if s.h2 != nil {
			s.h2.srv.Close()
			<-s.h2.done
		}
		return err
	case <-ctx.Done():
	}
	s.closing.Store(true)
	ln.Close()
	<-done
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Shutdown.D())
	defer cancel()
	h2err := make(chan error, 1)
	if s.h2 != nil {
		go func() { h2err <- s.h2.shutdown(sctx) }()
	} else {
		h2err <- nil
	}
	err := s.drain(sctx)
	if herr := <-h2err; err == nil {
		err = herr
	}
	return err
}

// drain closes connections as they turn idle until all are gone or ctx
// ends, then cuts the rest.
func (s *h1Server) drain(ctx context.Context) error {
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	tick := time.NewTicker(50 * time.Millisecond) // connections turning idle are closed on the next tick
	defer tick.Stop()
	for {
		s.closeConns(false)
		select {
		case <-drained:
			return nil
		case <-tick.C:
		case <-ctx.Done():
			s.closeConns(true)
			<-drained
			return context.DeadlineExceeded
		}
	}
}

// accept runs the accept loop; temporary errors (EMFILE) back off like
// net/http's. It returns nil once shutdown closed the listener.
func (s *h1Server) accept(ln net.Listener) error {
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
		if s.tlsCfg != nil {
			c = tls.Server(c, s.tlsCfg) // the handshake runs on the connection's goroutine
		}
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
func (s *h1Server) serveConn(c net.Conn, remoteIP string, pre []byte, resume func(*conn) bool) {
	fc := &conn{s: s, c: c, remoteIP: remoteIP, resume: resume}
	fc.src.pre = pre
	fc.state.Store(connActive)
	s.mu.Lock()
	s.conns[fc] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go fc.serve()
}

// closeConns closes idle connections, or all of them when force is set.
func (s *h1Server) closeConns(force bool) {
	for _, l := range s.loops {
		l.shutdown(force)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		switch {
		case force:
			closeSocket(fc.c)
		case fc.state.CompareAndSwap(connIdle, connClosed):
			fc.c.Close()
		}
	}
}

// closeSocket closes c's socket at once: on a TLS connection without the
// close_notify a client that stopped reading could hold for seconds.
func closeSocket(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	c.Close()
}

// remoteHost is c's peer address without the port, for X-Forwarded-For.
func remoteHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}
