package router

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// serveStdlib is Serve on net/http (HTTPServer "stdlib", or a handler
// other than *Router). Every HTTP/1.x connection passes
// through the smuggling guard (stdlib_guard.go), which holds each request
// head back until the framing policy (h1.Head.RequestBody) has judged it.
// With cfg.TLS, TLS is terminated in stdlib_tls.go so the guard sees
// plaintext; connections that negotiate HTTP/2 go to the standard
// library's HTTP/2 server, whose framing cannot carry the ambiguous
// shapes. cfg has its defaults applied.
func serveStdlib(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
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
		certs := &certStore{} // another handler: its certificate is read once
		var err error
		if r, ok := h.(*Router); ok {
			certs, err = routerCerts(r, cfg) // reloaded by Router.Update
		} else {
			err = certs.load(cfg.TLS)
		}
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = serverTLSConfig(certs, true)
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
