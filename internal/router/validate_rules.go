package router

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// validator collects FieldErrors; each rule adds to it rather than returning,
// so Validate reports every problem at once.
type validator struct{ errs ValidationError }

func (v *validator) add(path, msg string) {
	v.errs = append(v.errs, FieldError{Path: path, Msg: msg})
}

// addr checks an optional "host:port" listen address.
func (v *validator) addr(path, a string) {
	if a == "" {
		return
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		v.add(path, fmt.Sprintf("%q is not a host:port address", a))
	}
}

func (v *validator) dur(path string, d v1alpha1.Duration) {
	if d < 0 {
		v.add(path, fmt.Sprintf("%s is negative", d))
	}
}

// header checks an optional header name is an RFC 9110 token, because a bad
// name would make every stamped response malformed.
func (v *validator) header(path, name string) {
	if name != "" && !isToken(name) {
		v.add(path, fmt.Sprintf("%q is not a valid header name", name))
	}
}

// cookie checks an optional cookie name (also an RFC 6265 token).
func (v *validator) cookie(path, name string) {
	if name != "" && !isToken(name) {
		v.add(path, fmt.Sprintf("%q is not a valid cookie name", name))
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// host checks a route host: empty (any), exact ("shop.example.com") or a
// wildcard of one leading label ("*.example.com"). Ports are refused because
// the router matches on the host name alone.
func (v *validator) host(path, h string) {
	if h == "" {
		return
	}
	name := h
	if strings.HasPrefix(h, "*.") {
		name = h[2:]
	}
	if !isHostname(name) {
		v.add(path, fmt.Sprintf("%q is not a host name or a wildcard such as \"*.example.com\"", h))
	}
}

// isHostname accepts dot-separated labels of letters, digits and hyphens
// (and underscores, which real service names use), none empty.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// isName accepts release names: they appear in admin URLs
// (/v1/releases/{name}/weights), so they are kept to URL-safe characters.
func isName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isRevision accepts revision names: they are stamped in a header and named
// in override headers and cookies, so they must be visible ASCII without
// separators that would break a header or cookie value.
func isRevision(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

func (v *validator) release(p string, r Release) {
	switch {
	case r.Name == "":
		v.add(p+".name", "required")
	case !isName(r.Name):
		v.add(p+".name", fmt.Sprintf("%q may hold only letters, digits, '-', '_' and '.'", r.Name))
	}
	v.backend(p+".stable", &r.Stable, true)
	v.backend(p+".canary", r.Canary, false)
	v.backend(p+".baseline", r.Baseline, false)
	v.headerRoutes(p, r)

	cerr, berr := r.CanaryWeight.Validate(), r.BaselineWeight.Validate()
	if cerr != nil {
		v.add(p+".canaryWeight", cerr.Error())
	}
	if berr != nil {
		v.add(p+".baselineWeight", berr.Error())
	}
	if cerr == nil && berr == nil && r.CanaryWeight+r.BaselineWeight > PPMScale {
		v.add(p+".canaryWeight + baselineWeight", fmt.Sprintf("%s + %s is above 100%%", r.CanaryWeight, r.BaselineWeight))
	}
	if cerr == nil && r.CanaryWeight > 0 && r.Canary == nil {
		v.add(p+".canaryWeight", fmt.Sprintf("%s needs a canary backend (%s.canary)", r.CanaryWeight, p))
	}
	if berr == nil && r.BaselineWeight > 0 && r.Baseline == nil {
		v.add(p+".baselineWeight", fmt.Sprintf("%s needs a baseline backend (%s.baseline)", r.BaselineWeight, p))
	}

	if r.Mirror != nil {
		v.checked(p+".mirror", r.Mirror.Check())
	}
	if (r.Mirror != nil || len(r.MirrorRoutes) > 0) && r.Canary == nil {
		v.add(p+".mirror", fmt.Sprintf("copies go to the canary: %s.canary is required", p))
	}
	for i, mr := range r.MirrorRoutes {
		v.checked(fmt.Sprintf("%s.mirrorRoutes[%d]", p, i), mr.Check())
	}

	h := r.Health
	if h.EjectAfter < 0 {
		v.add(p+".health.ejectAfter", fmt.Sprintf("%d is negative", h.EjectAfter))
	}
	v.dur(p+".health.ejectFor", h.EjectFor)
	v.dur(p+".health.checkInterval", h.CheckInterval)
	if h.CheckPath != "" && !strings.HasPrefix(h.CheckPath, "/") {
		v.add(p+".health.checkPath", fmt.Sprintf("%q must start with \"/\"", h.CheckPath))
	}
}

// backend checks a version's revision and endpoints. required is false for
// canary and baseline, which may be absent (nil).
func (v *validator) backend(p string, b *Backend, required bool) {
	if b == nil {
		return
	}
	switch {
	case b.Revision == "":
		v.add(p+".revision", "required")
	case !isRevision(b.Revision):
		v.add(p+".revision", fmt.Sprintf("%q must be visible ASCII without spaces, quotes, ',', ';' or '\\'", b.Revision))
	}
	if len(b.Endpoints) == 0 {
		v.add(p+".endpoints", "at least one endpoint is required")
	}
	seen := map[string]int{}
	for i, e := range b.Endpoints {
		ep := fmt.Sprintf("%s.endpoints[%d]", p, i)
		if msg := checkEndpoint(e); msg != "" {
			v.add(ep, msg)
			continue
		}
		if j, dup := seen[e]; dup {
			v.add(ep, fmt.Sprintf("%q repeats endpoints[%d]", e, j))
		}
		seen[e] = i
	}
}

// checkEndpoint returns why e is not an absolute http(s) base URL, or "".
func checkEndpoint(e string) string {
	u, err := url.Parse(e)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL", truncate(e, 80))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must be an absolute http:// or https:// URL", truncate(e, 80))
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q has no host", truncate(e, 80))
	case u.User != nil:
		return fmt.Sprintf("%q must not carry credentials", truncate(e, 80))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Sprintf("%q must not have a query or fragment", truncate(e, 80))
	}
	return ""
}

// truncate keeps error messages readable when the input is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checked adds err from a v1alpha1 Check ("field: problem") under p.
func (v *validator) checked(p string, err error) {
	if err == nil {
		return
	}
	field, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		v.add(p, err.Error())
		return
	}
	v.add(p+"."+field, msg)
}
