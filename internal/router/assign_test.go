package router

import (
	"math"
	"strconv"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func mustCompile(t testing.TB, cfg Config) *table {
	t.Helper()
	tb, err := compile(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

const u1, u2, u3 = "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"

func threeVersions() Config {
	c := twoVersions(u1, u2, 0)
	c.Releases[0].Baseline = &Backend{Revision: "v1", Endpoints: []string{u3}}
	return c
}

// 1e5 distinct keys at 0.1 % must put 100 ± 4.5σ on the canary (σ ≈ 10),
// and likewise for the baseline at the top of the range.
func TestSplitAccuracyDecide(t *testing.T) {
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight, cfg.Releases[0].BaselineWeight = percent(0.1), percent(0.1)
	tb := mustCompile(t, cfg)
	const n = 100_000
	counts := map[Version]int{}
	var d decision
	for i := 0; i < n; i++ {
		in := inputs{Path: "/", KeyHeader: "user-" + strconv.Itoa(i)}
		tb.decide(&in, &d)
		counts[d.Version]++
	}
	p := 0.001
	sigma := math.Sqrt(n * p * (1 - p))
	for _, v := range []Version{Canary, Baseline} {
		if dev := math.Abs(float64(counts[v]) - n*p); dev > 4.5*sigma {
			t.Errorf("%s got %d of %d, want %.0f ± %.0f", v, counts[v], n, n*p, 4.5*sigma)
		}
	}
	t.Logf("canary %d baseline %d stable %d", counts[Canary], counts[Baseline], counts[Stable])
}

// Growing the weights must never move a canary key off the canary, nor a
// baseline key off the baseline.
func TestMonotonicAsWeightsGrow(t *testing.T) {
	cfg := threeVersions()
	const n = 20_000
	prev := map[int]Version{}
	for _, pct := range []float64{0.1, 1, 10, 50} {
		cfg.Releases[0].CanaryWeight = percent(pct)
		cfg.Releases[0].BaselineWeight = percent(math.Min(pct, 100-pct))
		tb := mustCompile(t, cfg)
		var d decision
		grown := 0
		for i := 0; i < n; i++ {
			in := inputs{KeyHeader: "k" + strconv.Itoa(i)}
			tb.decide(&in, &d)
			if was, ok := prev[i]; ok && was != Stable && was != d.Version {
				t.Fatalf("at %v%% key %d moved from %s to %s", pct, i, was, d.Version)
			}
			if prev[i] == Stable && d.Version != Stable {
				grown++
			}
			prev[i] = d.Version
		}
		if pct > 0.1 && grown == 0 {
			t.Errorf("at %v%% no key joined canary or baseline", pct)
		}
	}
}

func TestKeySources(t *testing.T) {
	cfg := twoVersions(u1, u2, 50)
	cfg.Key.Cookie = "uid"
	tb := mustCompile(t, cfg)
	var d decision
	cases := []struct {
		in   inputs
		src  keySource
		want uint32
	}{
		{inputs{KeyHeader: "h", KeyCookie: "c", StickyCookie: "s"}, keyFromHeader, Bucket("test-salt", "h")},
		{inputs{KeyCookie: "c", StickyCookie: "s"}, keyFromCookie, Bucket("test-salt", "c")},
		{inputs{StickyCookie: "s"}, keyFromSticky, Bucket("test-salt", "s")},
		{inputs{StickyCookie: "bad value;"}, keyNewSticky, 0},
		{inputs{}, keyNewSticky, 0},
	}
	for i, c := range cases {
		tb.decide(&c.in, &d)
		if d.Source != c.src {
			t.Errorf("case %d: source %d, want %d", i, d.Source, c.src)
		}
		if c.src != keyNewSticky && d.Bucket != c.want {
			t.Errorf("case %d: bucket %d, want %d", i, d.Bucket, c.want)
		}
		if c.src == keyNewSticky {
			id := string(d.NewID[:])
			if !validStickyID(id) || d.Bucket != Bucket("test-salt", id) {
				t.Errorf("case %d: new id %q bucket %d does not hash to its bucket", i, id, d.Bucket)
			}
		}
	}
}

func TestNoKeyWithoutStickyIsRandomUnlessRequired(t *testing.T) {
	cfg := twoVersions(u1, u2, 50)
	cfg.Key.DisableStickyCookie = true
	tb := mustCompile(t, cfg)
	seen := map[uint32]bool{}
	var d decision
	for i := 0; i < 50; i++ {
		tb.decide(&inputs{}, &d)
		if d.Source != keyRandom || d.Status != 0 {
			t.Fatalf("source %d status %d", d.Source, d.Status)
		}
		seen[d.Bucket] = true
	}
	if len(seen) < 45 {
		t.Errorf("only %d distinct buckets in 50 keyless requests: not fresh", len(seen))
	}
	cfg.Key.Required = true
	tb = mustCompile(t, cfg)
	if tb.decide(&inputs{}, &d); d.Status != 400 {
		t.Errorf("required key missing: status %d, want 400", d.Status)
	}
	if tb.decide(&inputs{KeyHeader: "u"}, &d); d.Status != 0 {
		t.Errorf("required key present: status %d", d.Status)
	}
}

func TestOverrides(t *testing.T) {
	base := threeVersions()
	base.Releases[0].Canary.Revision = "v2"
	cases := []struct {
		name   string
		ovr    OverrideConfig
		in     inputs
		want   Version
		forced bool
	}{
		{"header canary", OverrideConfig{}, inputs{OverrideHeader: "canary"}, Canary, true},
		{"header any case", OverrideConfig{}, inputs{OverrideHeader: " Baseline "}, Baseline, true},
		{"cookie", OverrideConfig{}, inputs{OverrideCookie: "canary"}, Canary, true},
		{"header wins over cookie", OverrideConfig{}, inputs{OverrideHeader: "stable", OverrideCookie: "canary"}, Stable, true},
		{"revision name", OverrideConfig{}, inputs{OverrideHeader: "v2"}, Canary, true},
		{"unknown ignored", OverrideConfig{}, inputs{OverrideHeader: "v9"}, Stable, false},
		{"disabled", OverrideConfig{Disabled: true}, inputs{OverrideHeader: "canary"}, Stable, false},
		{"secret missing", OverrideConfig{Secret: "s3"}, inputs{OverrideHeader: "canary"}, Stable, false},
		{"secret wrong", OverrideConfig{Secret: "s3"}, inputs{OverrideHeader: "canary", OverrideSecret: "s4"}, Stable, false},
		{"secret right", OverrideConfig{Secret: "s3"}, inputs{OverrideHeader: "canary", OverrideSecret: "s3"}, Canary, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			cfg.Overrides = c.ovr
			tb := mustCompile(t, cfg)
			var d decision
			c.in.KeyHeader = "someone"
			tb.decide(&c.in, &d)
			if d.Version != c.want || d.Overridden != c.forced {
				t.Errorf("got %s overridden=%v, want %s overridden=%v", d.Version, d.Overridden, c.want, c.forced)
			}
		})
	}
	// An override naming a version the release lacks is ignored.
	tb := mustCompile(t, twoVersions(u1, u2, 0))
	var d decision
	if tb.decide(&inputs{KeyHeader: "x", OverrideHeader: "baseline"}, &d); d.Version != Stable || d.Overridden {
		t.Errorf("override to a missing baseline: got %s", d.Version)
	}
}

func TestRouteMatching(t *testing.T) {
	rel := func(name string) Release {
		return Release{Name: name, Stable: Backend{Revision: name, Endpoints: []string{u1}}}
	}
	cfg := Config{
		Releases: []Release{rel("exact"), rel("exact-api"), rel("wild"), rel("deep-wild"), rel("any"), rel("any-api")},
		Routes: []Route{
			{Host: "Shop.Example.com", Release: "exact"},
			{Host: "shop.example.com", PathPrefix: "/api", Release: "exact-api"},
			{Host: "*.example.com", Release: "wild"},
			{Host: "*.eu.example.com", Release: "deep-wild"},
			{Release: "any"},
			{PathPrefix: "/api/", Release: "any-api"},
		},
	}
	tb := mustCompile(t, cfg)
	cases := []struct{ host, path, want string }{
		{"shop.example.com", "/", "exact"},
		{"SHOP.example.com:8080", "/api", "exact-api"},
		{"shop.example.com", "/api/x", "exact-api"},
		{"shop.example.com", "/apix", "exact"},
		{"a.example.com", "/", "wild"},
		{"a.eu.example.com", "/", "deep-wild"},
		{"example.com", "/", "any"},
		{"other.org", "/api/v1", "any-api"},
		{"other.org", "/api", "any"},
		{"[::1]:80", "/", "any"},
	}
	for _, c := range cases {
		got := tb.match(c.host, c.path)
		if got == nil || got.name != c.want {
			name := "<nil>"
			if got != nil {
				name = got.name
			}
			t.Errorf("%s%s: got %s, want %s", c.host, c.path, name, c.want)
		}
	}
	none := mustCompile(t, Config{Releases: []Release{rel("a")}, Routes: []Route{{Host: "a.test", Release: "a"}}})
	var d decision
	if none.decide(&inputs{Host: "b.test", Path: "/"}, &d); d.Status != 404 {
		t.Errorf("no route: status %d", d.Status)
	}
}

func TestCookieValue(t *testing.T) {
	cases := []struct {
		hdr, name, want string
		ok              bool
	}{
		{"a=1; b=2", "b", "2", true},
		{"a=1;b=2", "b", "2", true},
		{"ab=1; b=2", "b", "2", true},
		{`b="q"`, "b", "q", true},
		{"b=1; b=2", "b", "1", true},
		{"b", "b", "", false},
		{"", "b", "", false},
		{"b=", "b", "", true},
	}
	for _, c := range cases {
		got, ok := CookieValue(c.hdr, c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("CookieValue(%q,%q) = %q,%v want %q,%v", c.hdr, c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestWeightsValidatedAndReadBack(t *testing.T) {
	r, err := New(twoVersions(u1, u2, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if w, ok := r.Weights("shop"); !ok || w != (v1alpha1.Weights{CanaryPPM: 1000}) {
		t.Fatalf("Weights = %d %d %v, want 1000 0", w.CanaryPPM, w.BaselinePPM, ok)
	}
	if err := r.SetWeights("shop", v1alpha1.Weights{CanaryPPM: 250_000}); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights("shop"); w.CanaryPPM != 250_000 {
		t.Errorf("after SetWeights canary = %d", w.CanaryPPM)
	}
	if got := r.Config().Releases[0].CanaryWeight; got != percent(25) {
		t.Errorf("Config().canaryWeight = %v, want 25", got)
	}
	for _, bad := range []v1alpha1.Weights{{CanaryPPM: 1_000_001}, {CanaryPPM: 600_000, BaselinePPM: 500_000}, {BaselinePPM: 10}} {
		if err := r.SetWeights("shop", bad); err == nil {
			t.Errorf("SetWeights(%v) accepted (no baseline / over 100%%)", bad)
		}
	}
	if err := r.SetWeights("nope", v1alpha1.Weights{CanaryPPM: 1}); err == nil {
		t.Error("unknown release accepted")
	}
	if w, _ := r.Weights("shop"); w.CanaryPPM != 250_000 {
		t.Errorf("a refused SetWeights changed the weights: %d", w.CanaryPPM)
	}
}

// With the sticky cookie on, a required key is satisfied on the first
// visit by the fresh id; 400 is only for requests that cannot carry one.
func TestRequiredKeyWithStickyCookie(t *testing.T) {
	cfg := twoVersions(u1, u2, 50)
	cfg.Key.Required = true
	tb := mustCompile(t, cfg)
	var d decision
	if tb.decide(&inputs{}, &d); d.Status != 0 || d.Source != keyNewSticky {
		t.Errorf("first visit: status %d source %d", d.Status, d.Source)
	}
}
