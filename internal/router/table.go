package router

import (
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// table is one immutable compiled routing table. The router holds it behind
// an atomic.Pointer: readers load it once per request and never lock, and a
// change (Update or SetWeights) builds a new table and swaps the pointer, so
// a request sees either the old table or the new one, never a mix.
type table struct {
	cfg Config // the table as a Config, defaults applied, weights current

	saltDigest xxhash.Digest // xxhash state after salt+"\x00"
	key        struct {
		header, cookie, stickyName string
		sticky, required           bool
	}
	ovr struct {
		disabled                             bool
		header, cookie, secret, secretHeader string
	}
	versionHeader, upstreamVersionHeader string
	// hdr names the headers the releases' header routes match on; empty
	// (the common case) costs the front ends one length check.
	hdr routeHeaders

	// transport is the upstream connection pool. It lives in the table so
	// a timeout change swaps with everything else; it is shared between
	// tables while the timeouts stay the same.
	transport *http.Transport

	exact map[string]*hostRoutes // lower-case host without port
	wild  []wildRoutes           // longest suffix first
	any   *hostRoutes

	releases []*release // routes refer to releases by index, so SetWeights can replace one release without rebuilding routes
	byName   map[string]int
}

// hostRoutes are the path prefixes for one host match, longest first.
type hostRoutes struct{ paths []pathRoute }

type pathRoute struct {
	prefix string
	rel    int
}

type wildRoutes struct {
	suffix string // ".example.com" for "*.example.com"
	routes *hostRoutes
}

// release is one service's compiled versions and weights. Weights live here
// (not in backend) so a weight change copies only this small struct.
type release struct {
	name                   string
	canaryPPM, baselinePPM uint32
	versions               [3]*backend // indexed by versionIndex; nil when absent
	health                 HealthConfig
	mirror                 *mirror       // nil: nothing is mirrored (mirror.go)
	headerRoutes           []headerRoute // to the canary when one holds
}

func versionIndex(v Version) int {
	switch v {
	case Canary:
		return 1
	case Baseline:
		return 2
	}
	return 0
}

func (r *release) backend(v Version) *backend { return r.versions[versionIndex(v)] }

// backend is one version of a release: its revision, endpoints and
// telemetry. Endpoints carry ejection state, reused across table swaps.
type backend struct {
	release   string
	version   Version
	revision  string
	endpoints []*endpoint
	rr        atomic.Uint32 // round-robin cursor
	stats     *versionStats
}

// endpoint is one upstream instance. Its health state is shared by every
// table that lists it, so a swap neither forgets an ejection nor resets the
// consecutive-failure count.
type endpoint struct {
	url          *url.URL
	raw          string
	fails        atomic.Int32 // consecutive connection failures
	ejectedUntil atomic.Int64 // unix nanos; 0 = not ejected
	down         atomic.Bool  // set by active health checks
	pool         upPool       // the goroutine path's keep-alive connections (conn_pool.go)
}

// match finds the release for host and path: exact host, then the longest
// wildcard suffix, then routes with no host; within each, the longest path
// prefix. A host group with no matching path falls through to the next, so
// adding a host-specific route for /api does not hide a catch-all route.
func (t *table) match(host, path string) *release {
	host = normalizeHost(host)
	if hr := t.exact[host]; hr != nil {
		if i := hr.find(path); i >= 0 {
			return t.releases[i]
		}
	}
	for _, w := range t.wild {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if i := w.routes.find(path); i >= 0 {
				return t.releases[i]
			}
		}
	}
	if t.any != nil {
		if i := t.any.find(path); i >= 0 {
			return t.releases[i]
		}
	}
	return nil
}

// find returns the release index of the longest prefix matching path, by
// path segment: "/api" matches "/api" and "/api/x" but not "/apix", the way
// Gateway API PathPrefix matches.
func (h *hostRoutes) find(path string) int {
	if path == "" {
		path = "/"
	}
	for _, p := range h.paths {
		if prefixMatch(p.prefix, path) {
			return p.rel
		}
	}
	return -1
}

func prefixMatch(prefix, path string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// normalizeHost drops the port and lower-cases, allocating only when the
// host actually has upper-case letters.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// compile validates cfg and builds a table. prev, if not nil, is the table
// being replaced: endpoints with the same release and URL keep their health
// state. tel resolves per-version telemetry, which survives swaps.
func compile(cfg Config, prev *table, tel *Telemetry) (*table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	t := &table{
		saltDigest:            saltDigest(cfg.Key.Salt),
		versionHeader:         canonicalHeader(cfg.VersionHeader),
		upstreamVersionHeader: canonicalHeader(cfg.UpstreamVersionHeader),
		exact:                 map[string]*hostRoutes{},
		byName:                map[string]int{},
	}
	t.key.header = canonicalHeader(cfg.Key.Header)
	t.key.cookie = cfg.Key.Cookie
	t.key.stickyName = cfg.Key.StickyCookie
	t.key.sticky = !cfg.Key.DisableStickyCookie
	t.key.required = cfg.Key.Required
	t.ovr.disabled = cfg.Overrides.Disabled
	t.ovr.header = canonicalHeader(cfg.Overrides.Header)
	t.ovr.cookie = cfg.Overrides.Cookie
	t.ovr.secret = cfg.Overrides.Secret
	t.ovr.secretHeader = canonicalHeader(cfg.Overrides.SecretHeader)

	oldEP := map[string]*endpoint{}
	if prev != nil {
		for _, r := range prev.releases {
			for _, b := range r.versions {
				if b != nil {
					for _, e := range b.endpoints {
						oldEP[r.name+"\x00"+e.raw] = e
					}
				}
			}
		}
	}

	for i, rc := range cfg.Releases {
		rel, err := compileRelease(rc, oldEP, tel)
		if err == nil {
			rel.mirror, err = compileMirror(rc, cfg.Timeouts, t.upstreamVersionHeader, t.ovr.secretHeader)
			if err == nil {
				rel.headerRoutes, err = compileHeaderRoutes(rc.HeaderRoutes, &t.hdr)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("releases[%d]: %w", i, err)
		}
		t.byName[rel.name] = len(t.releases)
		t.releases = append(t.releases, rel)
	}

	wild := map[string]*hostRoutes{}
	for i, rt := range cfg.Routes {
		ri, ok := t.byName[rt.Release]
		if !ok {
			return nil, fmt.Errorf("routes[%d].release: no release named %q", i, rt.Release)
		}
		pr := pathRoute{prefix: rt.PathPrefix, rel: ri}
		host := strings.ToLower(rt.Host)
		var hr *hostRoutes
		switch {
		case host == "":
			if t.any == nil {
				t.any = &hostRoutes{}
			}
			hr = t.any
		case strings.HasPrefix(host, "*."):
			suffix := host[1:]
			if hr = wild[suffix]; hr == nil {
				hr = &hostRoutes{}
				wild[suffix] = hr
				t.wild = append(t.wild, wildRoutes{suffix: suffix, routes: hr})
			}
		default:
			if hr = t.exact[host]; hr == nil {
				hr = &hostRoutes{}
				t.exact[host] = hr
			}
		}
		hr.paths = append(hr.paths, pr)
	}
	sortPaths := func(h *hostRoutes) {
		sort.SliceStable(h.paths, func(a, b int) bool { return len(h.paths[a].prefix) > len(h.paths[b].prefix) })
	}
	for _, h := range t.exact {
		sortPaths(h)
	}
	for _, w := range t.wild {
		sortPaths(w.routes)
	}
	if t.any != nil {
		sortPaths(t.any)
	}
	sort.SliceStable(t.wild, func(a, b int) bool { return len(t.wild[a].suffix) > len(t.wild[b].suffix) })
	t.cfg = cfg
	return t, nil
}

func compileRelease(rc Release, oldEP map[string]*endpoint, tel *Telemetry) (*release, error) {
	if err := rc.CanaryWeight.Validate(); err != nil {
		return nil, fmt.Errorf("canaryWeight: %w", err)
	}
	if err := rc.BaselineWeight.Validate(); err != nil {
		return nil, fmt.Errorf("baselineWeight: %w", err)
	}
	cp, bp := uint32(rc.CanaryWeight), uint32(rc.BaselineWeight)
	rel := &release{name: rc.Name, health: rc.Health}
	add := func(v Version, b *Backend) error {
		if b == nil {
			return nil
		}
		be := &backend{release: rc.Name, version: v, revision: b.Revision}
		for _, raw := range b.Endpoints {
			if e := oldEP[rc.Name+"\x00"+raw]; e != nil {
				be.endpoints = append(be.endpoints, e)
				continue
			}
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s.endpoints: %q is not an http(s) base URL", v, raw)
			}
			be.endpoints = append(be.endpoints, &endpoint{url: u, raw: raw})
		}
		if len(be.endpoints) == 0 {
			return fmt.Errorf("%s.endpoints: at least one endpoint is required", v)
		}
		if tel != nil {
			be.stats = tel.stats(rc.Name, v, b.Revision)
		}
		rel.versions[versionIndex(v)] = be
		return nil
	}
	if err := add(Stable, &rc.Stable); err != nil {
		return nil, err
	}
	if err := add(Canary, rc.Canary); err != nil {
		return nil, err
	}
	if err := add(Baseline, rc.Baseline); err != nil {
		return nil, err
	}
	if err := rel.setWeights(cp, bp); err != nil {
		return nil, err
	}
	return rel, nil
}

// setWeights checks weights against the versions the release has. A weight
// for a missing version would silently send nobody there, so it is refused.
func (r *release) setWeights(canaryPPM, baselinePPM uint32) error {
	switch {
	case canaryPPM > PPMScale || baselinePPM > PPMScale || canaryPPM+baselinePPM > PPMScale:
		return fmt.Errorf("canary %d ppm + baseline %d ppm exceed %d ppm", canaryPPM, baselinePPM, PPMScale)
	case canaryPPM > 0 && r.versions[1] == nil:
		return fmt.Errorf("canaryWeight: release %q has no canary", r.name)
	case baselinePPM > 0 && r.versions[2] == nil:
		return fmt.Errorf("baselineWeight: release %q has no baseline", r.name)
	}
	r.canaryPPM, r.baselinePPM = canaryPPM, baselinePPM
	return nil
}

// withWeights returns a copy of t where one release has new weights. Only
// the release struct, the release slice and the Config's release slice are
// copied; backends and endpoints are shared.
func (t *table) withWeights(name string, canaryPPM, baselinePPM uint32) (*table, error) {
	i, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("no release named %q", name)
	}
	rel := *t.releases[i]
	if err := rel.setWeights(canaryPPM, baselinePPM); err != nil {
		return nil, err
	}
	nt := *t
	nt.releases = append([]*release(nil), t.releases...)
	nt.releases[i] = &rel
	nt.cfg.Releases = append([]Release(nil), t.cfg.Releases...)
	nt.cfg.Releases[i].CanaryWeight = v1alpha1.Weight(canaryPPM)
	nt.cfg.Releases[i].BaselineWeight = v1alpha1.Weight(baselinePPM)
	return &nt, nil
}

// hostPort is the endpoint's address with the scheme's default port.
func (e *endpoint) hostPort() string {
	if e.url.Port() != "" {
		return e.url.Host
	}
	if e.url.Scheme == "https" {
		return net.JoinHostPort(e.url.Hostname(), "443")
	}
	return net.JoinHostPort(e.url.Hostname(), "80")
}

func (t *table) eachEndpoint(fn func(*endpoint)) {
	for _, rel := range t.releases {
		for _, b := range rel.versions {
			if b != nil {
				for _, e := range b.endpoints {
					fn(e)
				}
			}
		}
	}
}

func (t *table) keyHint() string {
	switch {
	case t.key.header != "" && t.key.cookie != "":
		return "send header " + t.key.header + " or cookie " + t.key.cookie
	case t.key.header != "":
		return "send header " + t.key.header
	case t.key.cookie != "":
		return "send cookie " + t.key.cookie
	}
	return "accept the " + t.key.stickyName + " cookie"
}

// canonicalHeader is applied at compile time so request-time lookups can
// index http.Header directly.
func canonicalHeader(s string) string {
	if s == "" {
		return ""
	}
	return textproto.CanonicalMIMEHeaderKey(s)
}
