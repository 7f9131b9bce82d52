package v1alpha1

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Mirror is a canary strategy's shadow traffic (spec.strategy.canary.mirror):
// a share of the requests that stable serves is copied, after stable has
// answered the user, to the canary and (to measure noise) to the baseline
// copy of stable, and the answers are compared field by field. Users only
// ever get stable's answer. Percentage and Match mirror for the whole
// release, from the moment the canary is ready; setMirror steps add named
// routes under the same options.
type Mirror struct {
	// Percentage of stable's requests matching Match that are mirrored for
	// the whole release; 0 leaves mirroring to setMirror steps.
	Percentage Weight `json:"percentage,omitempty"`
	// Match limits the strategy-wide share; empty matches every request.
	// +optional
	Match []MirrorMatch `json:"match,omitempty"`
	// Methods that may be mirrored. Default GET, HEAD and OPTIONS: methods
	// with side effects are copied only when listed here.
	// +optional
	Methods []string `json:"methods,omitempty"`
	// MaxConcurrency bounds the mirrored requests in flight (default 16);
	// the queue in front of them holds four times as many, and a request
	// that finds it full is not mirrored (counted as dropped).
	// +optional
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
	// MaxBodyBytes bounds each request and response body buffered for the
	// copy and the comparison (default 65536). A longer request body is
	// not mirrored; a longer response body is compared by status and
	// headers only.
	// +optional
	MaxBodyBytes int `json:"maxBodyBytes,omitempty"`
	// Timeout of one mirrored request, answer included (default 5s).
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
	// Header marks mirrored requests so the application can avoid side
	// effects. Default "X-Kanaria-Mirror" (value "1").
	// +optional
	Header string `json:"header,omitempty"`
	// Compare says what is compared and when a difference counts.
	// +optional
	Compare *MirrorCompare `json:"compare,omitempty"`
}

// MirrorCompare configures the comparison of the mirrored answers.
type MirrorCompare struct {
	// Headers of the answers that are compared (the status always is).
	// +optional
	Headers []string `json:"headers,omitempty"`
	// Ignore lists JSON body fields known to differ, by path: "timestamp",
	// "meta.requestId", "items[].id" (an ignored field ignores what is
	// under it).
	// +optional
	Ignore []string `json:"ignore,omitempty"`
	// RedactHeaders and RedactCookies are replaced by "[redacted]" in the
	// examples the report keeps (Authorization, Proxy-Authorization and
	// Set-Cookie always are).
	// +optional
	RedactHeaders []string `json:"redactHeaders,omitempty"`
	// +optional
	RedactCookies []string `json:"redactCookies,omitempty"`
	// A field differs significantly when its candidate difference rate
	// exceeds the noise rate by at least AbsoluteThreshold (a fraction,
	// default 0.01) and by at least RelativeThreshold of it (default 0.2,
	// i.e. 20 % more than the noise).
	// +optional
	AbsoluteThreshold float64 `json:"absoluteThreshold,omitempty"`
	// +optional
	RelativeThreshold float64 `json:"relativeThreshold,omitempty"`
}

// MirrorRoute is a setMirror step (Argo Rollouts' setMirrorRoute): a named
// share of stable's requests, selected by Match, mirrored to the canary
// until a later setMirror with the same name and no percentage removes it,
// or the release ends.
type MirrorRoute struct {
	// Name identifies the route for a later step that changes or removes it.
	Name string `json:"name"`
	// Match: a request is mirrored when it matches any entry (all of an
	// entry's conditions); empty matches every request.
	// +optional
	Match []MirrorMatch `json:"match,omitempty"`
	// Percentage of the matching requests mirrored; absent removes the
	// route.
	// +optional
	Percentage *Weight `json:"percentage,omitempty"`
}

// MirrorMatch selects requests by method, path and headers (all that are
// set must hold).
type MirrorMatch struct {
	// +optional
	Method *StringMatch `json:"method,omitempty"`
	// +optional
	Path *StringMatch `json:"path,omitempty"`
	// Headers by name.
	// +optional
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// StringMatch is exactly one of Exact, Prefix or Regex (RE2 syntax, the
// whole value must match).
type StringMatch struct {
	// +optional
	Exact string `json:"exact,omitempty"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +optional
	Regex string `json:"regex,omitempty"`
}

// Removes reports whether the step removes its route (no percentage).
func (m MirrorRoute) Removes() bool { return m.Percentage == nil }

// Check returns the first problem of the mirror's options, naming the
// field relative to the mirror ("maxBodyBytes: -1 is negative"). The
// routes file and kanaria.yaml are checked with it, so both say the same.
func (m Mirror) Check() error {
	if err := m.Percentage.Validate(); err != nil {
		return fmt.Errorf("percentage: %w", err)
	}
	if err := checkMatches(m.Match); err != nil {
		return err
	}
	for i, meth := range m.Methods {
		if meth == "" || strings.ToUpper(meth) != meth || strings.ContainsAny(meth, " \t/") {
			return fmt.Errorf("methods[%d]: %q is not an upper-case HTTP method", i, meth)
		}
		if meth == "CONNECT" {
			return fmt.Errorf("methods[%d]: CONNECT cannot be mirrored", i)
		}
	}
	switch {
	case m.MaxConcurrency < 0:
		return fmt.Errorf("maxConcurrency: %d is negative", m.MaxConcurrency)
	case m.MaxConcurrency > 4096:
		return fmt.Errorf("maxConcurrency: %d is above 4096", m.MaxConcurrency)
	case m.MaxBodyBytes < 0:
		return fmt.Errorf("maxBodyBytes: %d is negative", m.MaxBodyBytes)
	case m.MaxBodyBytes > 16<<20:
		return fmt.Errorf("maxBodyBytes: %d is above 16 MiB", m.MaxBodyBytes)
	case m.Timeout < 0:
		return fmt.Errorf("timeout: %s is negative", m.Timeout)
	case strings.ContainsAny(m.Header, " :\t\r\n"):
		return fmt.Errorf("header: %q is not a header name", m.Header)
	}
	if c := m.Compare; c != nil {
		switch {
		case c.AbsoluteThreshold < 0 || c.AbsoluteThreshold > 1:
			return fmt.Errorf("compare.absoluteThreshold: %g is not a fraction between 0 and 1", c.AbsoluteThreshold)
		case c.RelativeThreshold < 0:
			return fmt.Errorf("compare.relativeThreshold: %g is negative", c.RelativeThreshold)
		}
	}
	return nil
}

// Check returns the first problem of a setMirror route.
func (m MirrorRoute) Check() error {
	if m.Name == "" {
		return errors.New("name: a mirror route needs a name (a later setMirror with it and no percentage removes it)")
	}
	if m.Percentage != nil {
		if err := m.Percentage.Validate(); err != nil {
			return fmt.Errorf("percentage: %w", err)
		}
	} else if len(m.Match) > 0 {
		return errors.New("percentage: a route with a match needs a percentage (without one, setMirror removes the route)")
	}
	return checkMatches(m.Match)
}

func checkMatches(ms []MirrorMatch) error {
	for i, mm := range ms {
		p := fmt.Sprintf("match[%d]", i)
		if err := mm.Method.check(p + ".method"); err != nil {
			return err
		}
		if err := mm.Path.check(p + ".path"); err != nil {
			return err
		}
		for name, h := range mm.Headers {
			if err := h.check(p + ".headers." + name); err != nil {
				return err
			}
		}
	}
	return nil
}

// check returns the first problem of s, at field path p.
func (s *StringMatch) check(p string) error {
	if s == nil {
		return nil
	}
	n := 0
	for _, v := range []string{s.Exact, s.Prefix, s.Regex} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: sets %d of exact, prefix, regex; exactly one is needed", p, n)
	}
	if s.Regex != "" {
		if _, err := regexp.Compile(s.Regex); err != nil {
			return fmt.Errorf("%s.regex: %w", p, err)
		}
	}
	return nil
}
