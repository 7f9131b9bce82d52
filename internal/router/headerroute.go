package router

import (
	"fmt"
	"regexp"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// MaxRouteHeaders bounds the distinct header names the header routes of a
// whole table match on: every front end reads their values into a fixed
// array of inputs, so a request costs no allocation however many routes
// there are.
const MaxRouteHeaders = 16

// headerRoute is one compiled setHeaderRoute: every matcher must hold.
type headerRoute struct {
	name     string
	matchers []headerMatcher
}

// headerMatcher compares the value of the table's header names[idx], with
// the string matching of mirror routes (a regex matches the whole value).
type headerMatcher struct {
	idx int
	m   strMatch
}

// routeHeaders is what the front ends need to read the header routes'
// values: the names in canonical form (net/http's map keys), indexed as
// inputs.Headers is.
type routeHeaders struct{ names []string }

// index returns the slot of name, adding it; false when the table already
// has MaxRouteHeaders names.
func (h *routeHeaders) index(name string) (int, bool) {
	c := canonicalHeader(name)
	for i, n := range h.names {
		if n == c {
			return i, true
		}
	}
	if len(h.names) == MaxRouteHeaders {
		return 0, false
	}
	h.names = append(h.names, c)
	return len(h.names) - 1, true
}

// compileHeaderRoutes compiles a release's routes, adding their header
// names to hs. Validate has checked them; errors here are the limit.
func compileHeaderRoutes(routes []v1alpha1.SetHeaderRoute, hs *routeHeaders) ([]headerRoute, error) {
	var out []headerRoute
	for i, r := range routes {
		hr := headerRoute{name: r.Name}
		for j, m := range r.Match {
			idx, ok := hs.index(m.HeaderName)
			if !ok {
				return nil, fmt.Errorf("headerRoutes[%d].match[%d].headerName: the table's header routes match on more than %d header names", i, j, MaxRouteHeaders)
			}
			if _, err := regexp.Compile(m.HeaderValue.Regex); err != nil {
				return nil, fmt.Errorf("headerRoutes[%d].match[%d].headerValue.regex: %v", i, j, err)
			}
			hr.matchers = append(hr.matchers, headerMatcher{idx: idx, m: *compileStrMatch(&m.HeaderValue)})
		}
		out = append(out, hr)
	}
	return out, nil
}

// matchHeaders reports whether one of the release's header routes holds
// for the request. An absent or empty header never matches.
func (r *release) matchHeaders(in *inputs) bool {
	for i := range r.headerRoutes {
		if r.headerRoutes[i].holds(in) {
			return true
		}
	}
	return false
}

func (hr *headerRoute) holds(in *inputs) bool {
	for i := range hr.matchers {
		m := &hr.matchers[i]
		if v := in.Headers[m.idx]; v == "" || !m.m.match(v) {
			return false
		}
	}
	return true
}

// headerField offers one request header field to the header routes: the
// first value of each routed name is kept. name is the field's name as
// sent (any case), for the HTTP/1.1 front ends.
func (t *table) headerField(name []byte, val string, in *inputs) {
	for i, n := range t.hdr.names {
		if in.Headers[i] == "" && h1.EqualFold(name, n) {
			in.Headers[i] = val
			return
		}
	}
}

// headerRoutes checks a release's header routes at p.
func (v *validator) headerRoutes(p string, r Release) {
	if len(r.HeaderRoutes) > 0 && r.Canary == nil {
		v.add(p+".headerRoutes", "need a canary backend ("+p+".canary): matching requests go to the canary")
	}
	names := map[string]int{}
	for i, hr := range r.HeaderRoutes {
		hp := fmt.Sprintf("%s.headerRoutes[%d]", p, i)
		if hr.Name == "" {
			v.add(hp+".name", "required")
		} else if j, dup := names[hr.Name]; dup {
			v.add(hp+".name", fmt.Sprintf("%q is already the name of headerRoutes[%d]", hr.Name, j))
		} else {
			names[hr.Name] = i
		}
		if len(hr.Match) == 0 {
			v.add(hp+".match", "needs at least one header (a route without match is a removed one: leave it out)")
		}
		for j, m := range hr.Match {
			mp := fmt.Sprintf("%s.match[%d]", hp, j)
			v.header(mp+".headerName", m.HeaderName)
			if m.HeaderName == "" {
				v.add(mp+".headerName", "required")
			}
			hv := m.HeaderValue
			n := 0
			for _, s := range []string{hv.Exact, hv.Prefix, hv.Regex} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				v.add(mp+".headerValue", fmt.Sprintf("needs exactly one of exact, prefix, regex (not empty); %d are set", n))
			}
			if hv.Regex != "" {
				if _, err := regexp.Compile(hv.Regex); err != nil {
					v.add(mp+".headerValue.regex", fmt.Sprintf("%q: %v", truncate(hv.Regex, 64), err))
				}
			}
		}
	}
}
