package router

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// FieldError is one problem in a Config, named by its field path
// ("releases[1].canaryWeight"). File, Line and Column are filled in when the
// Config came from a file, so a person can jump straight to the bad value.
type FieldError struct {
	Path   string
	Msg    string
	File   string
	Line   int
	Column int
}

// Error formats as "file:line:col: path: msg", leaving out what is unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
		if e.Column > 0 {
			b.WriteString(strconv.Itoa(e.Column))
			b.WriteString(":")
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ValidationError lists every problem found, so a person fixes a file in one
// pass rather than one error per run.
type ValidationError []FieldError

// Error prints one problem per line.
func (v ValidationError) Error() string {
	lines := make([]string, len(v))
	for i := range v {
		lines[i] = v[i].Error()
	}
	return strings.Join(lines, "\n")
}

// Defaults applied by WithDefaults. They are named so docs and tests agree.
const (
	DefaultVersionHeader        = "X-Kanaria-Version"
	DefaultStickyCookie         = "kanaria_id"
	DefaultOverrideHeader       = "X-Kanaria-Override"
	DefaultOverrideCookie       = "kanaria_override"
	DefaultOverrideSecretHeader = "X-Kanaria-Override-Secret"
	DefaultMaxHeaderBytes       = 64 << 10
	DefaultEjectAfter           = 3
)

// Default durations applied by WithDefaults.
var (
	DefaultDial           = v1alpha1.Duration(5e9)
	DefaultResponseHeader = v1alpha1.Duration(60e9)
	DefaultIdle           = v1alpha1.Duration(90e9)
	DefaultReadHeader     = v1alpha1.Duration(10e9)
	DefaultShutdown       = v1alpha1.Duration(30e9)
	DefaultEjectFor       = v1alpha1.Duration(10e9)
	DefaultCheckInterval  = v1alpha1.Duration(5e9)
)

// WithDefaults returns a copy with every unset field given its documented
// default. Listen and Admin are left alone: an empty Admin means "no admin
// API", and the command line decides the listen address. Slices of releases
// are copied so the caller's Config is not changed.
func (c Config) WithDefaults() Config {
	setStr := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDur := func(p *v1alpha1.Duration, v v1alpha1.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setStr(&c.VersionHeader, DefaultVersionHeader)
	setStr(&c.UpstreamVersionHeader, DefaultVersionHeader)
	setStr(&c.Key.StickyCookie, DefaultStickyCookie)
	setStr(&c.Overrides.Header, DefaultOverrideHeader)
	setStr(&c.Overrides.Cookie, DefaultOverrideCookie)
	setStr(&c.Overrides.SecretHeader, DefaultOverrideSecretHeader)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	setDur(&c.Timeouts.Dial, DefaultDial)
	setDur(&c.Timeouts.ResponseHeader, DefaultResponseHeader)
	setDur(&c.Timeouts.Idle, DefaultIdle)
	setDur(&c.Timeouts.ReadHeader, DefaultReadHeader)
	setDur(&c.Timeouts.Shutdown, DefaultShutdown)
	if c.Releases != nil {
		rels := make([]Release, len(c.Releases))
		copy(rels, c.Releases)
		for i := range rels {
			h := &rels[i].Health
			if h.EjectAfter == 0 {
				h.EjectAfter = DefaultEjectAfter
			}
			setDur(&h.EjectFor, DefaultEjectFor)
			if h.CheckPath != "" {
				setDur(&h.CheckInterval, DefaultCheckInterval)
			}
		}
		c.Releases = rels
	}
	return c
}

// Validate checks the whole table and returns a ValidationError listing
// every problem with its field path, or nil. It never changes c.
func (c Config) Validate() error {
	var v validator
	v.addr("listen", c.Listen)
	v.addr("admin", c.Admin)
	if c.TLS != nil {
		if c.TLS.CertFile == "" {
			v.add("tls.certFile", "required when tls is set")
		}
		if c.TLS.KeyFile == "" {
			v.add("tls.keyFile", "required when tls is set")
		}
	}
	v.header("key.header", c.Key.Header)
	v.cookie("key.cookie", c.Key.Cookie)
	v.cookie("key.stickyCookie", c.Key.StickyCookie)
	if c.Key.Required && c.Key.DisableStickyCookie && c.Key.Header == "" && c.Key.Cookie == "" {
		v.add("key.required", "no request could carry a key: set key.header or key.cookie, or enable the sticky cookie")
	}
	v.header("overrides.header", c.Overrides.Header)
	v.cookie("overrides.cookie", c.Overrides.Cookie)
	v.header("overrides.secretHeader", c.Overrides.SecretHeader)
	v.header("versionHeader", c.VersionHeader)
	v.header("upstreamVersionHeader", c.UpstreamVersionHeader)
	v.dur("timeouts.dial", c.Timeouts.Dial)
	v.dur("timeouts.responseHeader", c.Timeouts.ResponseHeader)
	v.dur("timeouts.idle", c.Timeouts.Idle)
	v.dur("timeouts.readHeader", c.Timeouts.ReadHeader)
	v.dur("timeouts.shutdown", c.Timeouts.Shutdown)
	switch c.HTTPServer {
	case "", HTTPServerFast, HTTPServerGoroutines, HTTPServerStdlib:
	default:
		v.add("httpServer", fmt.Sprintf("%q is not %q, %q or %q", c.HTTPServer, HTTPServerFast, HTTPServerGoroutines, HTTPServerStdlib))
	}
	if c.MaxHeaderBytes < 0 {
		v.add("maxHeaderBytes", fmt.Sprintf("%d is negative", c.MaxHeaderBytes))
	}

	names := map[string]int{}
	for i, r := range c.Releases {
		v.release(fmt.Sprintf("releases[%d]", i), r)
		if r.Name == "" {
			continue
		}
		if j, dup := names[r.Name]; dup {
			v.add(fmt.Sprintf("releases[%d].name", i), fmt.Sprintf("%q is already the name of releases[%d]", r.Name, j))
			continue
		}
		names[r.Name] = i
	}

	routed := map[string]bool{} // header names of every header route
	for i, r := range c.Releases {
		for j, hr := range r.HeaderRoutes {
			for k, m := range hr.Match {
				routed[canonicalHeader(m.HeaderName)] = true
				if len(routed) > MaxRouteHeaders {
					v.add(fmt.Sprintf("releases[%d].headerRoutes[%d].match[%d].headerName", i, j, k),
						fmt.Sprintf("the header routes of the table match on more than %d header names", MaxRouteHeaders))
				}
			}
		}
	}

	seen := map[[2]string]int{}
	for i, rt := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		v.host(p+".host", rt.Host)
		if rt.PathPrefix != "" && !strings.HasPrefix(rt.PathPrefix, "/") {
			v.add(p+".pathPrefix", fmt.Sprintf("%q must start with \"/\"", rt.PathPrefix))
		}
		switch _, ok := names[rt.Release]; {
		case rt.Release == "":
			v.add(p+".release", "required")
		case !ok:
			v.add(p+".release", fmt.Sprintf("no release named %q", rt.Release))
		}
		k := [2]string{strings.ToLower(rt.Host), rt.PathPrefix}
		if j, dup := seen[k]; dup {
			v.add(p, fmt.Sprintf("same host and pathPrefix as routes[%d]", j))
		} else {
			seen[k] = i
		}
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}
