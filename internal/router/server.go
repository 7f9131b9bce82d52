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
// Plain HTTP connections pass through the smuggling guard (smuggling.go).
// With cfg.TLS the standard library terminates TLS and negotiates HTTP/2;
// HTTP/2 framing cannot carry the ambiguous shapes, and for HTTP/1.1 over
// TLS Go's own checks apply (it drops a Content-Length sent with chunked
// and refuses conflicting lengths), so the request forwarded upstream is
// unambiguous either way.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
	cfg = cfg.WithDefaults()
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
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		go func() { done <- srv.ServeTLS(ln, "", "") }()
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
