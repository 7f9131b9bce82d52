package router

import (
	"strconv"
	"strings"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// betaRoutes are two header routes: X-Beta exactly "1"; or X-Tier with a
// "gold-" prefix and X-Region matching a regular expression.
func betaRoutes() []v1alpha1.SetHeaderRoute {
	return []v1alpha1.SetHeaderRoute{
		{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Beta", HeaderValue: v1alpha1.StringMatch{Exact: "1"}}}},
		{Name: "gold-eu", Match: []v1alpha1.HeaderRoutingMatch{
			{HeaderName: "x-tier", HeaderValue: v1alpha1.StringMatch{Prefix: "gold-"}},
			{HeaderName: "X-Region", HeaderValue: v1alpha1.StringMatch{Regex: `^eu-[a-z]+-[0-9]$`}},
		}},
	}
}

// headerCases are requests with the version each must reach with betaRoutes
// at a canary weight of 0: only a match (all of a route's headers) or an
// override reaches the canary.
var headerCases = []struct {
	name string
	hdr  map[string]string
	want string
}{
	{"no header", nil, "v1"},
	{"exact", map[string]string{"X-Beta": "1"}, "v2"},
	{"exact, header name in another case", map[string]string{"x-bEtA": "1"}, "v2"},
	{"exact is case-sensitive on the value", map[string]string{"X-Beta": "11"}, "v1"},
	{"empty value", map[string]string{"X-Beta": ""}, "v1"},
	{"prefix and regex", map[string]string{"X-Tier": "gold-7", "X-Region": "eu-west-1"}, "v2"},
	{"prefix without the regex header", map[string]string{"X-Tier": "gold-7"}, "v1"},
	{"regex not matching", map[string]string{"X-Tier": "gold-7", "X-Region": "us-east-1"}, "v1"},
	{"prefix not matching", map[string]string{"X-Tier": "silver", "X-Region": "eu-west-1"}, "v1"},
	{"an override to stable wins", map[string]string{"X-Beta": "1", DefaultOverrideHeader: "stable"}, "v1"},
}

func TestHeaderRouteDecide(t *testing.T) {
	cfg := twoVersions(u1, u2, 0)
	cfg.Releases[0].HeaderRoutes = betaRoutes()
	tb := mustCompile(t, cfg)
	for _, c := range headerCases {
		in := inputs{Host: "a", Path: "/", KeyHeader: "u1"}
		for k, v := range c.hdr {
			if strings.EqualFold(k, DefaultOverrideHeader) {
				in.OverrideHeader = v
				continue
			}
			for i, n := range tb.hdr.names {
				if strings.EqualFold(n, k) {
					in.Headers[i] = v
				}
			}
		}
		var d decision
		tb.decide(&in, &d)
		if d.Backend.revision != c.want || d.HeaderRoute != (c.want == "v2") {
			t.Errorf("%s: %s (header route %v), want %s", c.name, d.Backend.revision, d.HeaderRoute, c.want)
		}
	}
}

// Real requests over loopback through every front end: with the header
// they reach the canary whatever its weight (0 here, and 100 % the other
// way: a canary at full weight is reached without any header too), and an
// Update that removes the routes takes them out.
func TestHeaderRouteThroughFrontEnds(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		v1, v2 := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(v1.URL, v2.URL, 0)
		cfg.Releases[0].HeaderRoutes = betaRoutes()
		r, base := serveRouter(t, fe, cfg)
		c := client()
		for _, hc := range headerCases {
			for i := 0; i < 5; i++ { // several users: the weight plays no part
				hdr := map[string]string{"X-User": "user-" + strconv.Itoa(i)}
				for k, v := range hc.hdr {
					hdr[k] = v
				}
				resp := get(t, c, base+"/", hdr)
				if got := resp.Header.Get("X-Upstream"); got != hc.want || resp.Header.Get(DefaultVersionHeader) != hc.want {
					t.Fatalf("%s: served by %q (stamp %q), want %s", hc.name, got, resp.Header.Get(DefaultVersionHeader), hc.want)
				}
			}
		}
		cfg.Releases[0].HeaderRoutes = nil
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if got := get(t, c, base+"/", map[string]string{"X-User": "u", "X-Beta": "1"}).Header.Get("X-Upstream"); got != "v1" {
			t.Fatalf("after the routes were removed X-Beta reached %s", got)
		}
	})
}

// A header that is also the stickiness key still routes: the key switch
// of the HTTP/1.1 front ends must not swallow it.
func TestHeaderRouteOnTheKeyHeader(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		v1, v2 := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(v1.URL, v2.URL, 0)
		cfg.Releases[0].HeaderRoutes = []v1alpha1.SetHeaderRoute{{Name: "staff", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-User", HeaderValue: v1alpha1.StringMatch{Prefix: "staff-"}}}}}
		_, base := serveRouter(t, fe, cfg)
		c := client()
		if got := get(t, c, base+"/", map[string]string{"X-User": "staff-1"}).Header.Get("X-Upstream"); got != "v2" {
			t.Fatalf("staff-1 reached %s", got)
		}
		if got := get(t, c, base+"/", map[string]string{"X-User": "user-1"}).Header.Get("X-Upstream"); got != "v1" {
			t.Fatalf("user-1 reached %s", got)
		}
	})
}

func TestHeaderRouteValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(r *Release)
		want string
	}{
		{"no canary", func(r *Release) { r.Canary = nil }, "releases[0].headerRoutes: need a canary backend"},
		{"bad regex", func(r *Release) { r.HeaderRoutes[1].Match[1].HeaderValue.Regex = "(" }, "releases[0].headerRoutes[1].match[1].headerValue.regex: \"(\": error parsing regexp"},
		{"two kinds", func(r *Release) { r.HeaderRoutes[0].Match[0].HeaderValue.Prefix = "x" }, "releases[0].headerRoutes[0].match[0].headerValue: needs exactly one of exact, prefix, regex (not empty); 2 are set"},
		{"no match", func(r *Release) { r.HeaderRoutes[0].Match = nil }, "releases[0].headerRoutes[0].match: needs at least one header"},
		{"bad name", func(r *Release) { r.HeaderRoutes[0].Match[0].HeaderName = "X Beta" }, "releases[0].headerRoutes[0].match[0].headerName: \"X Beta\" is not a valid header name"},
		{"same route twice", func(r *Release) { r.HeaderRoutes[1].Name = "beta" }, "releases[0].headerRoutes[1].name: \"beta\" is already the name of headerRoutes[0]"},
		{"too many header names", func(r *Release) {
			for i := 0; i < MaxRouteHeaders; i++ {
				r.HeaderRoutes[0].Match = append(r.HeaderRoutes[0].Match, v1alpha1.HeaderRoutingMatch{HeaderName: "X-H" + strconv.Itoa(i), HeaderValue: v1alpha1.StringMatch{Exact: "1"}})
			}
		}, "match on more than 16 header names"},
	} {
		cfg := twoVersions(u1, u2, 0)
		cfg.Releases[0].HeaderRoutes = betaRoutes()
		c.mut(&cfg.Releases[0])
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the table", c.name)
		}
	}
}

// With header routes configured the decision still does not allocate,
// whether a route matches (regex included) or not.
func TestHeaderRouteDecideDoesNotAllocate(t *testing.T) {
	cfg := twoVersions(u1, u2, 0)
	cfg.Releases[0].HeaderRoutes = betaRoutes()
	tb := mustCompile(t, cfg)
	var d decision
	match := inputs{Host: "a", Path: "/", KeyHeader: "u1"}
	match.Headers[1], match.Headers[2] = "gold-1", "eu-west-1"
	miss := inputs{Host: "a", Path: "/", KeyHeader: "u1"}
	miss.Headers[0] = "2"
	for name, in := range map[string]inputs{"match": match, "miss": miss} {
		if n := testing.AllocsPerRun(100, func() { tb.decide(&in, &d) }); n > 0 {
			t.Errorf("%s: %v allocs per decision", name, n)
		}
	}
}

// BenchmarkDecideHeaderRoutes is BenchmarkDecide's request against a table
// with two header routes, the request carrying none of their headers.
func BenchmarkDecideHeaderRoutes(b *testing.B) {
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight, cfg.Releases[0].BaselineWeight = percent(10), percent(10)
	cfg.Releases[0].HeaderRoutes = betaRoutes()
	cfg.Routes = []Route{{Host: "shop.example.com", PathPrefix: "/api", Release: "shop"}, {Release: "shop"}}
	tb := mustCompile(b, cfg)
	b.ReportAllocs()
	b.ResetTimer()
	var d decision
	for i := 0; i < b.N; i++ {
		in := inputs{Host: "shop.example.com", Path: "/api/cart", StickyCookie: "user-1"}
		tb.decide(&in, &d)
	}
}
