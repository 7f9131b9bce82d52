package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// Mirroring (shadow traffic). A release with a canary and a mirror copies a
// share of the requests that stable serves: the front end (event loop,
// goroutine path or net/http) keeps a copy of the request and of stable's
// answer as it relays it (capture), and when the answer is complete hands
// both to the release's mirrorer without waiting (a full queue drops the
// copy). The mirrorer's workers send the request to the canary and the
// baseline, and a shadow.Collector compares the three answers. The user
// only ever gets stable's answer, and nothing on the request's path waits
// for a shadow. A release without a mirror costs one nil check.

// Mirror defaults.
const (
	DefaultMirrorHeader      = "X-Kanaria-Mirror"
	DefaultMirrorConcurrency = 16
	DefaultMirrorBodyBytes   = 64 << 10
	DefaultMirrorTimeout     = 5 * time.Second
	// mirrorQueuePerWorker: the queue holds this many requests per worker.
	mirrorQueuePerWorker = 4
)

// mirror is a release's compiled mirroring: what is copied. Its mirrorer
// (the queue, workers and comparison) outlives table swaps.
type mirror struct {
	routes  []mirrorRoute
	methods []string
	maxBody int
	header  string // canonical
	m       *mirrorer
	opts    mirrorOpts
	compare shadow.Config
	// versionHeader is the table's UpstreamVersionHeader: the copies are
	// stamped with the revision they go to, as proxied requests are.
	// secretHeader (the override secret) is never copied.
	versionHeader, secretHeader string
}

// mirrorOpts are the settings a mirrorer is built with; a change of them
// builds a new one.
type mirrorOpts struct {
	concurrency int
	timeout     time.Duration
	dial        time.Duration
}

type mirrorRoute struct {
	ppm     uint32
	matches []mirrorMatch // empty: every request
}

type mirrorMatch struct {
	method, path *strMatch
	headers      []headerMatch
}

type headerMatch struct {
	name string
	m    strMatch
}

type strMatch struct {
	exact, prefix string
	re            *regexp.Regexp
}

func (s *strMatch) match(v string) bool {
	switch {
	case s.re != nil:
		return s.re.MatchString(v)
	case s.prefix != "":
		return strings.HasPrefix(v, s.prefix)
	}
	return v == s.exact
}

func compileStrMatch(s *v1alpha1.StringMatch) *strMatch {
	if s == nil {
		return nil
	}
	m := &strMatch{exact: s.Exact, prefix: s.Prefix}
	if s.Regex != "" {
		m.re = regexp.MustCompile("^(?:" + s.Regex + ")$") // Check compiled it already
	}
	return m
}

func compileRoute(ppm v1alpha1.Weight, ms []v1alpha1.MirrorMatch) mirrorRoute {
	r := mirrorRoute{ppm: uint32(ppm)}
	for _, m := range ms {
		cm := mirrorMatch{method: compileStrMatch(m.Method), path: compileStrMatch(m.Path)}
		for name, h := range m.Headers {
			cm.headers = append(cm.headers, headerMatch{name: textproto.CanonicalMIMEHeaderKey(name), m: *compileStrMatch(&h)})
		}
		r.matches = append(r.matches, cm)
	}
	return r
}

// compileMirror checks and compiles a release's mirror; nil when the
// release mirrors nothing (no canary, or no route with a share).
func compileMirror(rc Release, to Timeouts, versionHeader, secretHeader string) (*mirror, error) {
	if rc.Mirror == nil && len(rc.MirrorRoutes) == 0 {
		return nil, nil
	}
	var opt v1alpha1.Mirror
	if rc.Mirror != nil {
		opt = *rc.Mirror
		if err := opt.Check(); err != nil {
			return nil, fmt.Errorf("mirror.%w", err)
		}
	}
	if _, err := shadow.NewComparer(compareOf(opt)); err != nil {
		return nil, fmt.Errorf("mirror.compare.%w", err)
	}
	m := &mirror{maxBody: opt.MaxBodyBytes, header: canonicalHeader(opt.Header), methods: opt.Methods,
		compare: compareOf(opt), versionHeader: versionHeader, secretHeader: secretHeader}
	if opt.Percentage > 0 {
		m.routes = append(m.routes, compileRoute(opt.Percentage, opt.Match))
	}
	for i, r := range rc.MirrorRoutes {
		if err := r.Check(); err != nil {
			return nil, fmt.Errorf("mirrorRoutes[%d].%w", i, err)
		}
		if !r.Removes() && *r.Percentage > 0 {
			m.routes = append(m.routes, compileRoute(*r.Percentage, r.Match))
		}
	}
	if len(m.routes) == 0 || rc.Canary == nil {
		return nil, nil
	}
	if m.maxBody == 0 {
		m.maxBody = DefaultMirrorBodyBytes
	}
	if m.header == "" {
		m.header = DefaultMirrorHeader
	}
	if len(m.methods) == 0 {
		m.methods = []string{"GET", "HEAD", "OPTIONS"}
	}
	m.opts = mirrorOpts{concurrency: opt.MaxConcurrency, timeout: opt.Timeout.D(), dial: to.Dial.D()}
	if m.opts.concurrency == 0 {
		m.opts.concurrency = DefaultMirrorConcurrency
	}
	if m.opts.timeout == 0 {
		m.opts.timeout = DefaultMirrorTimeout
	}
	return m, nil
}

func compareOf(opt v1alpha1.Mirror) shadow.Config {
	if opt.Compare == nil {
		return shadow.Config{}
	}
	return *opt.Compare
}

// want decides whether a request stable is about to serve is copied: its
// method is allowed, a route matches it and its share says so, and the
// queue has room (a full queue is counted as a drop, and nothing is
// copied).
func (m *mirror) want(method, path string, header func(string) (string, bool)) bool {
	if !slices.Contains(m.methods, method) {
		return false
	}
	for i := range m.routes {
		rt := &m.routes[i]
		if !rt.selects(method, path, header) {
			continue
		}
		if rand.Uint32N(PPMScale) >= rt.ppm {
			return false
		}
		m.m.sampled.Add(1)
		if len(m.m.jobs) >= cap(m.m.jobs) {
			m.m.dropped.Add(1)
			return false
		}
		return true
	}
	return false
}

func (r *mirrorRoute) selects(method, path string, header func(string) (string, bool)) bool {
	if len(r.matches) == 0 {
		return true
	}
	for _, mm := range r.matches {
		if mm.method != nil && !mm.method.match(method) || mm.path != nil && !mm.path.match(path) {
			continue
		}
		ok := true
		for _, h := range mm.headers {
			v, found := header(h.name)
			if !found || !h.m.match(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// capture is one mirrored request on its way: the copy of the request and
// stable's answer, filled in by the front end as it relays it. All its
// methods do nothing on a nil capture, so the front ends call them
// unconditionally.
type capture struct {
	m       *mirror
	host    string
	req     shadow.Request
	primary shadow.Response
	// reqHead and respHead are copies of the request's and stable's
	// answer's header blocks, kept by the event loop and the goroutine
	// path, which do not parse them into headers: the mirror's workers do
	// (materialize), off the primary's way.
	reqHead, respHead []byte
	candidate         *backend
	secondary         *backend // nil without a baseline
}

// newCapture starts a capture for a request of rel that stable serves.
func (m *mirror) newCapture(rel *release, method, target, host string) *capture {
	return &capture{m: m, host: host, req: shadow.Request{Method: method, Target: target},
		candidate: rel.backend(Canary), secondary: rel.backend(Baseline)}
}

// captureH1 is newCapture for the event loop and the goroutine path: the
// request head h as r was admitted from it, and its body when it came
// whole. A body the mirror cannot buffer (chunked, or longer than
// maxBody) is not mirrored; the goroutine path reads a body it may keep
// through requestBody.
func captureH1(r *request, h *h1.Head) *capture {
	m := r.rel.mirror
	if m == nil || r.backend.version != Stable || r.upgrade {
		return nil
	}
	path, _, _ := strings.Cut(bstr(r.target), "?")
	if !m.want(bstr(r.method), path, func(name string) (string, bool) {
		v, ok := h.Get(name)
		return bstr(v), ok
	}) {
		return nil
	}
	if r.hasBody && (r.chunked || h.Length > int64(m.maxBody)) {
		m.m.skippedBody.Add(1)
		return nil
	}
	c := m.newCapture(r.rel, string(r.method), string(originForm(r.target)), "")
	c.reqHead = append([]byte(nil), h.Buf...)
	return c
}

// materialize parses the header blocks the front end kept into the copy's
// request header (without hop-by-hop and router-owned fields) and stable's
// answer's header. It runs on a mirror worker.
func (c *capture) materialize() error {
	if c.reqHead != nil {
		h := h1.Head{Buf: c.reqHead}
		if err := h.Parse(); err != nil {
			return err
		}
		c.req.Header = http.Header{}
		for i := range h.Fields {
			f := &h.Fields[i]
			name := h.Bytes(f.Name)
			switch {
			case f.Hop:
			case h1.EqualFold(name, "Host"):
				c.host = string(h.Bytes(f.Value))
			case c.m.dropsField(bstr(name)):
			default:
				c.req.Header.Add(string(name), string(h.Bytes(f.Value)))
			}
		}
		c.reqHead = nil
	}
	if c.respHead != nil {
		h := h1.Head{Buf: c.respHead}
		if err := h.Parse(); err != nil {
			return err
		}
		c.primary.Header = http.Header{}
		for i := range h.Fields {
			if f := &h.Fields[i]; !f.Hop {
				c.primary.Header.Add(string(h.Bytes(f.Name)), string(h.Bytes(f.Value)))
			}
		}
		c.respHead = nil
	}
	return nil
}

// dropsField: fields the copy does not carry (the router's own, and
// framing, which the mirror's client sets itself).
func (m *mirror) dropsField(name string) bool {
	for _, s := range []string{"Content-Length", "Transfer-Encoding", "Expect", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", m.versionHeader, m.secretHeader} {
		if s != "" && strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// requestBody keeps the request's body (it fits: captureH1 checked).
func (c *capture) requestBody(b []byte) {
	if c != nil {
		c.req.Body = append(c.req.Body, b...)
	}
}

// answerH1 records stable's status and keeps its header block.
func (c *capture) answerH1(code int, h *h1.Head) {
	if c != nil {
		c.primary.Status, c.respHead = code, append([]byte(nil), h.Buf...)
	}
}

// body keeps p, a piece of stable's answer body, up to maxBody.
func (c *capture) body(p []byte) {
	if c == nil || c.primary.Truncated {
		return
	}
	if len(c.primary.Body)+len(p) > c.m.maxBody {
		c.primary.Truncated, c.primary.Body = true, nil
		return
	}
	c.primary.Body = append(c.primary.Body, p...)
}

// done hands a complete capture to the mirrorer without waiting.
func (c *capture) done() {
	if c == nil {
		return
	}
	select {
	case c.m.m.jobs <- c:
	default:
		c.m.m.dropped.Add(1)
	}
}

// abandon counts a capture whose primary answer did not complete.
func (c *capture) abandon() {
	if c != nil {
		c.m.m.dropped.Add(1)
	}
}
