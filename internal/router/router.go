package router

import (
	"errors"
	"log/slog"
	"net/http/httputil"
	"sync"
	"sync/atomic"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Router is kanaria's data plane as an http.Handler. The routing table sits
// behind an atomic pointer: ServeHTTP loads it once per request without a
// lock; Update and SetWeights build a new table and swap it in one store.
type Router struct {
	tbl    atomic.Pointer[table]
	mu     sync.Mutex // serialises writers (Update, SetWeights, Close)
	tel    *Telemetry
	proxy  *httputil.ReverseProxy
	health *healthSet
	certs  certStore // the TLS listener's certificate (tls: in the table)
	closed bool
	// mirrors are the releases' mirrorers by name, also after a release
	// stopped mirroring (its report stays readable); guarded by mu.
	mirrors map[string]*mirrorer
}

// New validates cfg, compiles it, loads its TLS certificate if it has one
// and starts active health checks if any release asks for them. Call
// Close to stop them.
func New(cfg Config) (*Router, error) {
	r := &Router{tel: NewTelemetry(0)}
	t, err := compile(cfg, nil, r.tel)
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		if err := r.certs.load(cfg.TLS); err != nil {
			return nil, err
		}
	}
	t.transport = newTransport(t.cfg.Timeouts)
	r.attachMirrors(t)
	r.tbl.Store(t)
	r.proxy = &httputil.ReverseProxy{
		Rewrite:        r.rewrite,
		Transport:      failoverTransport{},
		ModifyResponse: r.modifyResponse,
		ErrorHandler:   r.errorHandler,
		BufferPool:     &bufferPool{},
		// What the standard library's proxy reports on its own (a body
		// copy that broke midway) goes to the program's slog logger.
		ErrorLog: slog.NewLogLogger(slog.Default().With("component", "router").Handler(), slog.LevelWarn),
	}
	r.health = startHealth(t)
	return r, nil
}

// Telemetry returns the per-version counters, histograms and samples.
func (r *Router) Telemetry() *Telemetry { return r.tel }

// Update validates cfg and swaps in a table built from it. Endpoints and
// telemetry of releases that keep their names (and revisions) carry over.
// With cfg.TLS the certificate is read again: new handshakes get it,
// established connections keep theirs (a table without tls keeps the
// certificate in force). On error nothing changes.
func (r *Router) Update(cfg Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("router is closed")
	}
	old := r.tbl.Load()
	t, err := compile(cfg, old, r.tel)
	if err != nil {
		return err
	}
	if cfg.TLS != nil {
		cert, err := loadCertificate(cfg.TLS)
		if err != nil {
			return err
		}
		defer r.certs.cert.Store(cert) // with the table, after nothing else can fail
	}
	if t.cfg.Timeouts == old.cfg.Timeouts {
		t.transport = old.transport
	} else {
		t.transport = newTransport(t.cfg.Timeouts)
	}
	r.attachMirrors(t)
	r.tbl.Store(t)
	if t.transport != old.transport {
		old.transport.CloseIdleConnections() // in-flight requests keep theirs
	}
	old.closeIdlePools(t) // endpoints that left the table

	r.health.stop()
	r.health = startHealth(t)
	return nil
}

// SetWeights changes one release's weights in one table swap. It refuses
// weights above PPMScale in total and weights for a version the release
// does not have.
func (r *Router) SetWeights(release string, w v1alpha1.Weights) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.tbl.Load().withWeights(release, uint32(w.CanaryPPM), uint32(w.BaselinePPM))
	if err != nil {
		return err
	}
	r.tbl.Store(t)
	return nil
}

// Weights returns the weights in force for release.
func (r *Router) Weights(release string) (v1alpha1.Weights, bool) {
	t := r.tbl.Load()
	i, ok := t.byName[release]
	if !ok {
		return v1alpha1.Weights{}, false
	}
	rel := t.releases[i]
	return v1alpha1.Weights{CanaryPPM: v1alpha1.Weight(rel.canaryPPM), BaselinePPM: v1alpha1.Weight(rel.baselinePPM)}, true
}

// Config returns the table in force, defaults applied and weights as they
// are now. The slices are copies: changing them does not change the router.
func (r *Router) Config() Config {
	c := r.tbl.Load().cfg
	c.Routes = append([]Route(nil), c.Routes...)
	c.Releases = append([]Release(nil), c.Releases...)
	return c
}

// Close stops health checks and idle upstream connections. The handler
// keeps working (a late request is still proxied) but Update is refused.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.health.stop()
	for _, mr := range r.mirrors {
		mr.stop()
	}
	r.tbl.Load().transport.CloseIdleConnections()
	r.tbl.Load().closeIdlePools(nil)
	return nil
}
