package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Serve runs h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish within
// Timeouts.Shutdown, and closes what is left after that. It returns nil
// after a clean drain, the drain's error if requests had to be cut, or the
// listener's error if serving failed.
//
// Every HTTP/1.x connection passes through the smuggling guard
// (smuggling.go). With cfg.TLS, TLS is terminated in serve_tls.go so the
// guard sees plaintext; connections that negotiate HTTP/2 go to the
// standard library's HTTP/2 server, whose framing cannot carry the
// ambiguous shapes.
//
// A plain-HTTP listener serving a *Router uses the fast front end
// (fast_*.go: kanaria's own HTTP/1.1 server and upstream pool, same
// decisions, same checks) unless cfg.HTTPServer is "stdlib"; TLS listeners
// and other handlers (the admin API) use net/http.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
	cfg = cfg.WithDefaults()
	if r, ok := h.(*Router); ok && cfg.TLS == nil && cfg.HTTPServer != HTTPServerStdlib {
		return serveFast(ctx, ln, r, cfg)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.Timeouts.ReadHeader.D(),
		IdleTimeout:       cfg.Timeouts.Idle.D(),
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
	done := make(chan error, 1)
	if cfg.TLS == nil {
		go func() { done <- srv.Serve(&guardListener{Listener: ln, maxHeader: cfg.MaxHeaderBytes}) }()
	} else {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		}
		srv.ConnContext = tlsConnContext
		srv.Handler = withTLSState(h)
		tln := newTLSGuardListener(ln, srv.TLSConfig, cfg.MaxHeaderBytes, cfg.Timeouts.ReadHeader.D())
		go func() { done <- srv.Serve(tln) }()
	}

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Shutdown.D())
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close() // the drain budget is spent: cut what is left
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
