package router

import (
	"crypto/rand"
	"encoding/hex"
	randv2 "math/rand/v2"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// inputs is what the routing decision needs from one request, already reduced
// to strings. Keeping the decision on plain strings (not *http.Request) lets
// every HTTP front end — net/http, the event loop and the goroutine path —
// fill it from its own header representation without allocating.
type inputs struct {
	Host string // Host header or :authority, port allowed, any case
	Path string // URL path, no query

	KeyHeader      string // value of Key.Header ("" if absent or not configured)
	KeyCookie      string // value of the Key.Cookie cookie
	StickyCookie   string // value of kanaria's own sticky cookie
	OverrideHeader string // value of Overrides.Header
	OverrideCookie string // value of the Overrides.Cookie cookie
	OverrideSecret string // value of Overrides.SecretHeader
	// Headers holds the first value of each header the table's header
	// routes match on, indexed as table.hdr.names.
	Headers [MaxRouteHeaders]string
}

// keySource says where a request's bucket came from; the proxy uses it to
// decide whether to issue the sticky cookie.
type keySource uint8

// Key sources, in order of precedence.
const (
	keyFromHeader keySource = iota + 1
	keyFromCookie
	keyFromSticky
	keyNewSticky // no key: a fresh sticky id was drawn, issue it as a cookie
	keyRandom    // no key and no sticky cookie: a fresh random bucket
)

// decision outcomes other than "proxy it".
const (
	decideOK       = 0
	decideNoRoute  = 404
	decideKeyNeeds = 400
)

// stickyIDLen is the length of kanaria's sticky id: 16 random bytes in hex.
const stickyIDLen = 32

// decision is the result of routing one request. It is filled in place (no
// allocation) and holds pointers into the table snapshot it came from, so a
// request keeps using the snapshot it started with even if the table is
// swapped meanwhile.
type decision struct {
	Status      int       // decideOK, or the HTTP status the router must answer with
	Release     *release  // the matched release
	Backend     *backend  // the version that serves (stable if the chosen one is absent)
	Version     Version   // Backend's role
	Bucket      uint32    // the key's bucket in [0, PPMScale)
	Source      keySource // where the key came from
	Overridden  bool      // a tester's override chose Version, not the weights
	HeaderRoute bool      // a header route chose the canary, not the weights
	// NewID holds the fresh sticky id when Source == keyNewSticky. A fixed
	// array rather than a string keeps the decision allocation-free.
	NewID [stickyIDLen]byte
}

// bucketOf hashes key after the table's pre-hashed salt prefix. Copying the
// digest state avoids re-hashing the salt and building salt+"\x00"+key.
func (t *table) bucketOf(key string) uint32 {
	d := t.saltDigest
	_, _ = d.WriteString(key)
	return uint32(d.Sum64() % PPMScale)
}

func (t *table) bucketOfBytes(key []byte) uint32 {
	d := t.saltDigest
	_, _ = d.Write(key)
	return uint32(d.Sum64() % PPMScale)
}

// saltDigest returns the xxhash state after writing salt and the separator.
func saltDigest(salt string) xxhash.Digest {
	d := xxhash.New()
	_, _ = d.WriteString(salt)
	_, _ = d.WriteString("\x00")
	return *d
}

// Bucket is the exported form of the assignment hash, for tools (kanaria
// verify, tests) that must predict where a key lands: xxhash64(salt + "\x00"
// + key) mod PPMScale.
func Bucket(salt, key string) uint32 {
	return uint32(xxhash.Sum64String(salt+"\x00"+key) % PPMScale)
}

// versionFor maps a bucket to a version under the given weights. The canary
// owns [0, canary), the baseline [PPMScale-baseline, PPMScale), stable the
// rest; growing a weight only grows its range, which is what makes
// assignment monotonic.
func versionFor(bucket, canaryPPM, baselinePPM uint32) Version {
	switch {
	case bucket < canaryPPM:
		return Canary
	case bucket >= PPMScale-baselinePPM:
		return Baseline
	default:
		return Stable
	}
}

// decide routes one request: find the release, the key and bucket, apply an
// override if allowed, else a header route, else pick the version by
// weight. It must not allocate (see
// BenchmarkDecide) because it runs on every request.
func (t *table) decide(in *inputs, d *decision) {
	*d = decision{}
	rel := t.match(in.Host, in.Path)
	if rel == nil {
		d.Status = decideNoRoute
		return
	}
	d.Release = rel

	switch {
	case t.key.header != "" && in.KeyHeader != "":
		d.Source, d.Bucket = keyFromHeader, t.bucketOf(in.KeyHeader)
	case t.key.cookie != "" && in.KeyCookie != "":
		d.Source, d.Bucket = keyFromCookie, t.bucketOf(in.KeyCookie)
	case t.key.sticky && validStickyID(in.StickyCookie):
		d.Source, d.Bucket = keyFromSticky, t.bucketOf(in.StickyCookie)
	case t.key.sticky:
		// A first visit: the fresh id becomes the key from now on, so even
		// a route that requires a key is satisfied.
		newStickyID(&d.NewID)
		d.Source, d.Bucket = keyNewSticky, t.bucketOfBytes(d.NewID[:])
	case t.key.required:
		d.Status = decideKeyNeeds
		return
	default:
		d.Source, d.Bucket = keyRandom, randv2.Uint32N(PPMScale)
	}

	if v, ok := t.override(rel, in); ok {
		d.Version, d.Overridden = v, true
	} else if len(rel.headerRoutes) > 0 && rel.versions[1] != nil && rel.matchHeaders(in) {
		d.Version, d.HeaderRoute = Canary, true
	} else {
		d.Version = versionFor(d.Bucket, rel.canaryPPM, rel.baselinePPM)
	}
	d.Backend = rel.backend(d.Version)
	if d.Backend == nil { // weights name a version the release lacks
		d.Version, d.Backend = Stable, rel.backend(Stable)
	}
}

// override returns the version a tester forced, if overrides are on, the
// secret (when configured) matches, and the named version exists.
func (t *table) override(rel *release, in *inputs) (Version, bool) {
	if t.ovr.disabled {
		return "", false
	}
	val := in.OverrideHeader
	if val == "" {
		val = in.OverrideCookie
	}
	if val == "" {
		return "", false
	}
	if t.ovr.secret != "" && !constantTimeEqual(in.OverrideSecret, t.ovr.secret) {
		return "", false
	}
	return parseOverride(rel, val)
}

// parseOverride reads an override value: a role name (any case) or a
// revision of one of the release's versions. Unknown values are ignored
// rather than refused so a stale tester cookie never breaks a page.
func parseOverride(rel *release, val string) (Version, bool) {
	val = strings.TrimSpace(val)
	if val == "" {
		return "", false
	}
	for _, v := range [...]Version{Stable, Canary, Baseline} {
		if strings.EqualFold(val, string(v)) {
			if rel.backend(v) != nil {
				return v, true
			}
			return "", false
		}
	}
	for _, b := range rel.versions {
		if b != nil && b.revision == val {
			return b.version, true
		}
	}
	return "", false
}

// constantTimeEqual compares without an early exit so the secret cannot be
// guessed byte by byte from response timing. Length is not secret.
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var x byte
	for i := 0; i < len(a); i++ {
		x |= a[i] ^ b[i]
	}
	return x == 0
}

// validStickyID accepts what newStickyID produces and what an older or other
// router might have issued: 1..64 URL-safe characters. Anything else (a
// tampered or absurd cookie) is replaced by a fresh id rather than hashed.
func validStickyID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newStickyID draws 128 random bits from crypto/rand (ids must not be
// predictable: they decide who sees the canary) into dst as hex.
func newStickyID(dst *[stickyIDLen]byte) {
	var raw [stickyIDLen / 2]byte
	_, _ = rand.Read(raw[:]) // never fails since Go 1.24
	hex.Encode(dst[:], raw[:])
}

// CookieValue finds the named cookie in one Cookie header value without
// allocating, unlike http.Request.Cookie which parses every cookie. It
// accepts the RFC 6265 shape "a=1; b=2", tolerates missing spaces and strips
// one pair of surrounding double quotes. The first occurrence wins.
func CookieValue(header, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	for len(header) > 0 {
		var part string
		if i := strings.IndexByte(header, ';'); i >= 0 {
			part, header = header[:i], header[i+1:]
		} else {
			part, header = header, ""
		}
		part = strings.TrimLeft(part, " \t")
		if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
			continue
		}
		v := strings.TrimRight(part[len(name)+1:], " \t")
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return "", false
}
