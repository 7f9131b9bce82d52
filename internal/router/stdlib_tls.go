package router

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// tlsGuardListener terminates TLS itself so HTTP/1.1-over-TLS passes the
// smuggling guard too: the guard must see plaintext, and http.Server only
// speaks HTTP/2 on a *tls.Conn. So connections that negotiated "h2" are
// returned as the *tls.Conn (the standard library serves HTTP/2, whose
// framing cannot carry the ambiguous shapes), and the rest are returned
// wrapped in a guardConn. The handshake runs in its own goroutine so a slow
// client cannot stall Accept.
type tlsGuardListener struct {
	net.Listener
	cfg       *tls.Config
	maxHeader int
	handshake time.Duration

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	acceptErr error
}

func newTLSGuardListener(ln net.Listener, cfg *tls.Config, maxHeader int, handshake time.Duration) *tlsGuardListener {
	l := &tlsGuardListener{Listener: ln, cfg: cfg, maxHeader: maxHeader, handshake: handshake,
		conns: make(chan net.Conn), done: make(chan struct{})}
	go l.loop()
	return l
}

func (l *tlsGuardListener) loop() {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			l.closeWith(err)
			return
		}
		go l.serveHandshake(raw)
	}
}

func (l *tlsGuardListener) serveHandshake(raw net.Conn) {
	tc := tls.Server(raw, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.handshake)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		raw.Close()
		return
	}
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		g := newGuardConn(tc, l.maxHeader)
		state := tc.ConnectionState()
		g.tls = &state
		c = g
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next handshaken connection.
func (l *tlsGuardListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		if l.acceptErr != nil {
			return nil, l.acceptErr
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already handed out are unaffected.
func (l *tlsGuardListener) Close() error { return l.closeWith(nil) }

// closeWith records why accepting stopped (nil: closed on purpose) before
// Accept can observe done, so the error is published by the channel close.
func (l *tlsGuardListener) closeWith(acceptErr error) error {
	var err error
	l.closeOnce.Do(func() {
		l.acceptErr = acceptErr
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

type tlsStateKey struct{}

// tlsConnContext remembers a guarded connection's TLS state, which
// http.Server cannot see through the wrapper.
func tlsConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardConn); ok && g.tls != nil {
		return context.WithValue(ctx, tlsStateKey{}, g.tls)
	}
	return ctx
}

// withTLSState restores Request.TLS for HTTP/1.1 over a guarded TLS
// connection, so X-Forwarded-Proto says https and the sticky cookie gets
// Secure.
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		h.ServeHTTP(w, r)
	})
}
