// Package shadow compares the answers of mirrored requests, the way
// Twitter's Diffy does: each mirrored request has the answer the user got
// from stable (the primary), the canary's (the candidate) and, when the
// release runs one, the baseline's (a second copy of stable: the
// secondary). A field of the answer (the status, a selected header, a JSON
// body field by path, or a non-JSON body by hash) that differs between
// primary and candidate clearly more often than between primary and
// secondary is a difference the canary introduced; one that differs as
// often between the two copies of stable is noise (a timestamp, a random
// id).
//
// Diff compares two answers; a Collector counts differences per endpoint
// (method and normalised path) and field, keeps a few redacted examples and
// builds a Report. Everything is pure and bounded: the router does the I/O
// and feeds the Collector.
package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Defaults of the comparison.
const (
	DefaultAbsoluteThreshold = 0.01
	DefaultRelativeThreshold = 0.2
	// MaxExamples kept per endpoint and field.
	MaxExamples = 3
	// MaxEndpoints and MaxFields bound a Collector's memory: further
	// endpoints are counted under OtherEndpoint, further fields of an
	// endpoint under one field of kind "other".
	MaxEndpoints = 100
	MaxFields    = 100
	// OtherEndpoint collects the endpoints past MaxEndpoints.
	OtherEndpoint = "(other endpoints)"
	// maxExampleBody is how much of a body an example keeps.
	maxExampleBody = 1024
	// maxPathsPerAnswer bounds the JSON fields one comparison reports.
	maxPathsPerAnswer = 200
)

// Field kinds: what part of the answer a field is.
const (
	KindStatus = "status" // the status code (0: no answer)
	KindHeader = "header" // a compared header; Path is its name
	KindBody   = "body"   // a non-JSON body, compared by hash
	KindJSON   = "json"   // a JSON body field; Path like "items[].price", "$" for the root
	KindOther  = "other"  // the fields of an endpoint past MaxFields
)

// Field is one compared part of an answer.
type Field struct {
	Kind string `json:"kind"`
	Path string `json:"path,omitempty"`
}

// String is "status", "header Content-Type", "body" or "json items[].price".
func (f Field) String() string {
	if f.Path == "" {
		return f.Kind
	}
	return f.Kind + " " + f.Path
}

// Request is a mirrored request as the primary got it.
type Request struct {
	Method string
	Target string // the request target: path and query
	Header http.Header
	Body   []byte
}

// Response is one version's answer. Status 0 with Err is no answer (a
// connection failure or a timeout). Truncated bodies (longer than the
// mirror's MaxBodyBytes) are not compared.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool
	Err       string
}

// Config is what is compared and how differences are judged; it is the
// rollout's spec.strategy.canary.mirror.compare.
type Config = v1alpha1.MirrorCompare

// Comparer is a compiled Config.
type Comparer struct {
	headers       []string // canonical
	ignore        []string
	redactHeaders map[string]bool
	redactCookies map[string]bool
	abs, rel      float64
}

// NewComparer compiles cfg, with defaults for what it leaves out.
func NewComparer(cfg Config) (*Comparer, error) {
	c := &Comparer{abs: cfg.AbsoluteThreshold, rel: cfg.RelativeThreshold,
		redactHeaders: map[string]bool{"Authorization": true, "Proxy-Authorization": true},
		redactCookies: map[string]bool{}}
	if c.abs < 0 || c.abs > 1 {
		return nil, fmt.Errorf("absoluteThreshold: %g is not a fraction between 0 and 1", c.abs)
	}
	if c.rel < 0 {
		return nil, fmt.Errorf("relativeThreshold: %g is negative", c.rel)
	}
	if c.abs == 0 {
		c.abs = DefaultAbsoluteThreshold
	}
	if c.rel == 0 {
		c.rel = DefaultRelativeThreshold
	}
	for _, h := range cfg.Headers {
		c.headers = append(c.headers, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, p := range cfg.Ignore {
		if p = strings.TrimPrefix(strings.TrimSpace(p), "$."); p != "" {
			c.ignore = append(c.ignore, p)
		}
	}
	for _, h := range cfg.RedactHeaders {
		c.redactHeaders[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	for _, k := range cfg.RedactCookies {
		c.redactCookies[k] = true
	}
	return c, nil
}

// Diff returns the fields in which a and b differ, sorted. An answer
// missing on either side differs only in its status.
func (c *Comparer) Diff(a, b *Response) []Field {
	var out []Field
	if a.Status != b.Status {
		out = append(out, Field{Kind: KindStatus})
	}
	if a.Err != "" || b.Err != "" {
		return out
	}
	for _, h := range c.headers {
		if strings.Join(a.Header.Values(h), ", ") != strings.Join(b.Header.Values(h), ", ") {
			out = append(out, Field{Kind: KindHeader, Path: h})
		}
	}
	if a.Truncated || b.Truncated || bytes.Equal(a.Body, b.Body) {
		return out
	}
	ja, aok := decodeJSON(a.Body)
	jb, bok := decodeJSON(b.Body)
	if aok && bok {
		paths := map[string]bool{}
		c.walk("", ja, jb, paths)
		keys := make([]string, 0, len(paths))
		for p := range paths {
			keys = append(keys, p)
		}
		sort.Strings(keys)
		for _, p := range keys {
			out = append(out, Field{Kind: KindJSON, Path: p})
		}
		return out
	}
	if xxhash.Sum64(a.Body) != xxhash.Sum64(b.Body) || len(a.Body) != len(b.Body) {
		out = append(out, Field{Kind: KindBody})
	}
	return out
}

// decodeJSON reads a JSON document (object or array) keeping numbers as
// written.
func decodeJSON(b []byte) (any, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(t))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	return v, true
}

// walk records in out the paths under path where a and b differ: objects
// key by key, arrays index by index (reported as "name[]"), other values
// by equality. An element or key present on one side only differs at its
// own path.
func (c *Comparer) walk(path string, a, b any, out map[string]bool) {
	if len(out) >= maxPathsPerAnswer || c.ignored(path) {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			out[display(path)] = true
			return
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok {
				c.mark(join(path, k), out)
				continue
			}
			c.walk(join(path, k), x, y, out)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				c.mark(join(path, k), out)
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			out[display(path)] = true
			return
		}
		ep := display(path) + "[]"
		for i := 0; i < max(len(av), len(bv)); i++ {
			if i >= len(av) || i >= len(bv) {
				c.mark(ep, out)
				break
			}
			c.walk(ep, av[i], bv[i], out)
		}
	default:
		if !scalarEqual(a, b) {
			out[display(path)] = true
		}
	}
}

func (c *Comparer) mark(path string, out map[string]bool) {
	if !c.ignored(path) {
		out[display(path)] = true
	}
}

// ignored: path is an ignored field or lies under one.
func (c *Comparer) ignored(path string) bool {
	for _, p := range c.ignore {
		if path == p || strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[') {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func display(path string) string {
	if path == "" {
		return "$"
	}
	return path
}

// scalarEqual compares JSON scalars; numbers by value when both parse
// ("1.0" equals "1"), else as written.
func scalarEqual(a, b any) bool {
	if an, ok := a.(json.Number); ok {
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		if an == bn {
			return true
		}
		af, e1 := an.Float64()
		bf, e2 := bn.Float64()
		return e1 == nil && e2 == nil && af == bf
	}
	switch a.(type) {
	case map[string]any, []any:
		return false
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	return a == b
}

// Significant reports whether a field whose candidate difference rate is
// cand and noise rate noise is a difference the candidate introduced.
func (c *Comparer) Significant(cand, noise float64) bool {
	return cand > 0 && cand-noise >= c.abs && cand >= noise*(1+c.rel)
}

// redactHeader copies h with redacted values replaced.
func (c *Comparer) redactHeader(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		switch {
		case c.redactHeaders[k] || k == "Set-Cookie":
			out[k] = []string{redacted}
		case k == "Cookie" && len(c.redactCookies) > 0:
			out[k] = make([]string, len(vs))
			for i, v := range vs {
				out[k][i] = c.redactCookieHeader(v)
			}
		default:
			out[k] = slices.Clone(vs)
		}
	}
	return out
}

const redacted = "[redacted]"

// redactCookieHeader replaces the values of redacted cookies in one
// Cookie header ("a=1; session=xyz" -> "a=1; session=[redacted]").
func (c *Comparer) redactCookieHeader(v string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		name, _, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && c.redactCookies[name] {
			parts[i] = " " + name + "=" + redacted
			if i == 0 {
				parts[i] = parts[i][1:]
			}
		}
	}
	return strings.Join(parts, ";")
}
