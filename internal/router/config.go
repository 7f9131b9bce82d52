package router

import "github.com/kanaria-dev/kanaria/api/v1alpha1"

// PPMScale is the number of buckets a key can fall into: one per part per
// million of traffic (v1alpha1.PPM), so 0.1 % is 1,000 buckets.
const PPMScale = v1alpha1.PPM

// Version names a role a release's traffic can be sent to.
type Version string

// The three roles of a release. The canary owns buckets [0, canaryPPM), the
// baseline owns [PPMScale-baselinePPM, PPMScale), stable owns the rest.
const (
	Stable   Version = "stable"
	Canary   Version = "canary"
	Baseline Version = "baseline"
)

// Config is the whole routing table: what the router serves, as read from a
// routes file (YAML) or set through the admin API (JSON). The same struct is
// both, so its json tags are the file's field names. Weights are
// v1alpha1.Weight (ppm), written as percentages with decimals in the file
// and API; durations are v1alpha1.Duration, Go duration strings.
type Config struct {
	// Listen is the address of the proxy listener, e.g. "127.0.0.1:8080".
	Listen string `json:"listen,omitempty"`
	// TLS, when set, serves HTTPS (and HTTP/2) on Listen. Router.Update
	// (SIGHUP) reads the files again.
	TLS *TLSConfig `json:"tls,omitempty"`
	// Admin is the loopback address of the admin API; empty disables it.
	Admin string `json:"admin,omitempty"`
	// AdminTokenFile holds the bearer token the admin API requires.
	AdminTokenFile string `json:"adminTokenFile,omitempty"`

	Key       KeyConfig      `json:"key,omitempty"`
	Overrides OverrideConfig `json:"overrides,omitempty"`
	// VersionHeader is stamped on every response with the serving revision.
	// Default "X-Kanaria-Version".
	VersionHeader string `json:"versionHeader,omitempty"`
	// UpstreamVersionHeader is set on the request sent upstream. Default
	// "X-Kanaria-Version".
	UpstreamVersionHeader string `json:"upstreamVersionHeader,omitempty"`

	Timeouts Timeouts `json:"timeouts,omitempty"`
	// MaxHeaderBytes limits request header size. Default 64 KiB.
	MaxHeaderBytes int `json:"maxHeaderBytes,omitempty"`
	// HTTPServer chooses the front end: "fast"
	// (the default: kanaria's own HTTP/1.1 server and upstream pool, with
	// the common requests served by an epoll event loop on Linux,
	// loop_*.go, and the rest by a goroutine per connection, conn_*.go),
	// "goroutines" (the same server without the event loop) or "stdlib"
	// (net/http with httputil.ReverseProxy, stdlib_*.go). With TLS, "fast"
	// and "goroutines" serve HTTP/1.1 on the goroutine path over
	// crypto/tls and hand connections that negotiate h2 to net/http's
	// HTTP/2 server; "stdlib" serves both with net/http.
	HTTPServer string `json:"httpServer,omitempty"`

	Routes   []Route   `json:"routes"`
	Releases []Release `json:"releases"`
}

// Values of Config.HTTPServer.
const (
	HTTPServerFast       = "fast"       // kanaria's HTTP/1.1 front end with the event loop (the default)
	HTTPServerGoroutines = "goroutines" // kanaria's HTTP/1.1 front end, a goroutine per connection
	HTTPServerStdlib     = "stdlib"     // net/http and httputil.ReverseProxy
)

// TLSConfig names a certificate and key in PEM files.
type TLSConfig struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// KeyConfig says where a request's stickiness key comes from.
type KeyConfig struct {
	// Header, if set, names a request header holding a user id.
	Header string `json:"header,omitempty"`
	// Cookie, if set, names a request cookie holding a user id.
	Cookie string `json:"cookie,omitempty"`
	// StickyCookie is the name of kanaria's own random-id cookie, issued on
	// the first response when no other key is present. Default "kanaria_id".
	StickyCookie string `json:"stickyCookie,omitempty"`
	// DisableStickyCookie stops the router issuing its own cookie.
	DisableStickyCookie bool `json:"disableStickyCookie,omitempty"`
	// Required refuses (400) requests that carry no key.
	Required bool `json:"required,omitempty"`
	// Salt is mixed into the hash; routers that must agree share it.
	Salt string `json:"salt,omitempty"`
}

// OverrideConfig lets testers force a version with a header or a cookie.
type OverrideConfig struct {
	// Disabled turns overrides off.
	Disabled bool `json:"disabled,omitempty"`
	// Header default "X-Kanaria-Override"; Cookie default "kanaria_override".
	Header string `json:"header,omitempty"`
	Cookie string `json:"cookie,omitempty"`
	// Secret, when set, must be presented in SecretHeader (default
	// "X-Kanaria-Override-Secret") for an override to be honoured.
	Secret       string `json:"secret,omitempty"`
	SecretHeader string `json:"secretHeader,omitempty"`
}

// Timeouts for the proxy. Zero means the default.
type Timeouts struct {
	Dial           v1alpha1.Duration `json:"dial,omitempty"`           // default 5s
	ResponseHeader v1alpha1.Duration `json:"responseHeader,omitempty"` // default 60s
	Idle           v1alpha1.Duration `json:"idle,omitempty"`           // default 90s
	ReadHeader     v1alpha1.Duration `json:"readHeader,omitempty"`     // default 10s
	Shutdown       v1alpha1.Duration `json:"shutdown,omitempty"`       // default 30s: drain budget
}

// Route sends requests matching Host and PathPrefix to a release. Host is
// exact ("shop.example.com"), a wildcard ("*.example.com") or empty (any).
// The longest matching PathPrefix wins among routes with the same host match;
// exact hosts win over wildcards, wildcards over empty.
type Route struct {
	Host       string `json:"host,omitempty"`
	PathPrefix string `json:"pathPrefix,omitempty"`
	Release    string `json:"release"`
}

// Release is one service's versions and their weights.
type Release struct {
	Name     string   `json:"name"`
	Stable   Backend  `json:"stable"`
	Canary   *Backend `json:"canary,omitempty"`
	Baseline *Backend `json:"baseline,omitempty"`
	// CanaryWeight and BaselineWeight are the shares of traffic, written
	// as percentages (0.1 = 1,000 ppm).
	CanaryWeight   v1alpha1.Weight `json:"canaryWeight,omitempty"`
	BaselineWeight v1alpha1.Weight `json:"baselineWeight,omitempty"`
	// Health configures passive ejection and optional active checks.
	Health HealthConfig `json:"health,omitempty"`
	// Mirror copies a share of the requests stable serves to the canary
	// (and the baseline) and compares the answers (mirror.go): its
	// percentage and match for the whole release, its options for the
	// MirrorRoutes too. It needs a canary.
	Mirror *v1alpha1.Mirror `json:"mirror,omitempty"`
	// MirrorRoutes are setMirror steps' routes in force, mirrored under
	// Mirror's options (the defaults when Mirror is absent).
	MirrorRoutes []v1alpha1.MirrorRoute `json:"mirrorRoutes,omitempty"`
	// HeaderRoutes send a request to the canary, whatever the weights, when
	// every match of one of them holds (setHeaderRoute steps); a tester's
	// override still wins. They need a canary backend.
	HeaderRoutes []v1alpha1.SetHeaderRoute `json:"headerRoutes,omitempty"`
}

// Backend is a revision and the endpoints serving it (base URLs such as
// "http://127.0.0.1:9001"); requests are balanced across them.
type Backend struct {
	Revision  string   `json:"revision"`
	Endpoints []string `json:"endpoints"`
}

// HealthConfig: passive ejection after consecutive failures, optional active
// HTTP checks.
type HealthConfig struct {
	// EjectAfter consecutive connection failures eject an endpoint for
	// EjectFor. Defaults 3 and 10s.
	EjectAfter int               `json:"ejectAfter,omitempty"`
	EjectFor   v1alpha1.Duration `json:"ejectFor,omitempty"`
	// CheckPath, if set, is polled every CheckInterval (default 5s).
	CheckPath     string            `json:"checkPath,omitempty"`
	CheckInterval v1alpha1.Duration `json:"checkInterval,omitempty"`
}
