package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// TLS on kanaria's own front end (HTTPServer "fast" or "goroutines" with
// tls: in the routes file). crypto/tls terminates every connection on its
// goroutine (conn.handshake); ALPN then decides who serves it: "h2" goes
// to net/http's HTTP/2 server (h2Front), whose framing cannot carry the
// HTTP/1.1 smuggling shapes, and "http/1.1" (or no ALPN) stays on the
// goroutine path, which frames HTTP/1.1 with internal/h1 as it does for
// plain connections. The event loop is not used: it reads raw sockets.

// certStore holds the listener's certificate. Router.New loads it and
// Router.Update reloads it (SIGHUP in `kanaria router`), so new handshakes
// get the new certificate while established connections keep going.
type certStore struct {
	cert atomic.Pointer[tls.Certificate]
}

// load reads the certificate and key named by c; on error the store is
// unchanged.
func (s *certStore) load(c *TLSConfig) error {
	cert, err := loadCertificate(c)
	if err != nil {
		return err
	}
	s.cert.Store(cert)
	return nil
}

// loadCertificate reads a certificate and key pair, naming the fields and
// files in any error.
func loadCertificate(c *TLSConfig) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.certFile %q, tls.keyFile %q: %w", c.CertFile, c.KeyFile, err)
	}
	return &cert, nil
}

// get is tls.Config.GetCertificate: the certificate in force.
func (s *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("kanaria: no certificate loaded")
}

// serverTLSConfig is the TLS configuration of a listener whose certificate
// comes from certs. Session tickets (crypto/tls's default, keys rotated by
// the library) let returning clients resume without a full handshake.
func serverTLSConfig(certs *certStore, h2 bool) *tls.Config {
	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{
		GetCertificate: certs.get,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     protos,
	}
}

// routerCerts returns r's certificate store, loading cfg.TLS into it if r
// was built without one.
func routerCerts(r *Router, cfg Config) (*certStore, error) {
	if r.certs.cert.Load() == nil {
		if err := r.certs.load(cfg.TLS); err != nil {
			return nil, err
		}
	}
	return &r.certs, nil
}

// h2Front serves the connections that negotiated HTTP/2 with net/http's
// HTTP/2 server and h2Handler, which proxies over the goroutine path's
// upstream pool. Connections are handed to it after
// the handshake, through a listener of its own.
type h2Front struct {
	srv  *http.Server
	ln   *handoffListener
	done chan error
}

func newH2Front(r *Router, cfg Config) *h2Front {
	f := &h2Front{
		srv: &http.Server{
			Handler:           h2Handler{r},
			ReadHeaderTimeout: cfg.Timeouts.ReadHeader.D(),
			IdleTimeout:       cfg.Timeouts.Idle.D(),
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			// TLSConfig and TLSNextProto stay nil: http.Server then sets up
			// HTTP/2 for the *tls.Conn values it is handed (the handshake
			// is already done, with the listener's configuration).
		},
		ln:   newHandoffListener(),
		done: make(chan error, 1),
	}
	go func() { f.done <- f.srv.Serve(f.ln) }()
	return f
}

// serve hands an HTTP/2 connection over; it is closed if the server is
// shutting down.
func (f *h2Front) serve(c *tls.Conn) {
	if !f.ln.hand(c) {
		c.Close()
	}
}

// shutdown drains the HTTP/2 connections (GOAWAY, in-flight streams
// finish) until ctx ends, then cuts what is left.
func (f *h2Front) shutdown(ctx context.Context) error {
	err := f.srv.Shutdown(ctx)
	if err != nil {
		f.srv.Close()
	}
	<-f.done
	return err
}

// handoffListener is a net.Listener fed by hand: Accept returns the
// connections given to hand, until Close.
type handoffListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// hand gives c to the next Accept; false once the listener is closed.
func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept returns the next connection handed over.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; connections already handed over are unaffected.
func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder: the connections come from another listener.
func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "handoff" }
func (handoffAddr) String() string  { return "handoff" }
