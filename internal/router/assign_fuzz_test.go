package router

import (
	"strings"
	"testing"
)

// FuzzParseCookieKey: CookieValue never panics, and what it returns is a
// substring of the header with no ';' in it (a value never spans cookies).
func FuzzParseCookieKey(f *testing.F) {
	for _, s := range []string{"kanaria_id=abc", `a=1; kanaria_id="q"`, "kanaria_id", ";;;=", "kanaria_id=; x=1", "\x00=\xff"} {
		f.Add(s, "kanaria_id")
	}
	f.Fuzz(func(t *testing.T, header, name string) {
		v, ok := CookieValue(header, name)
		if !ok {
			return
		}
		if !strings.Contains(header, v) || strings.Contains(v, ";") {
			t.Fatalf("CookieValue(%q, %q) = %q", header, name, v)
		}
	})
}

// FuzzOverride: any override value and secret yields a version the release
// has, and with the secret required a wrong secret never forces anything.
func FuzzOverride(f *testing.F) {
	for _, s := range []string{"canary", "CANARY", " stable ", "v2", "baseline", "", "\xff", "v1"} {
		f.Add(s, "s3cret")
	}
	cfg := threeVersions()
	open := mustCompile(f, cfg)
	cfg.Overrides.Secret = "s3cret"
	locked := mustCompile(f, cfg)
	f.Fuzz(func(t *testing.T, val, secret string) {
		var d decision
		in := inputs{KeyHeader: "u", OverrideHeader: val, OverrideSecret: secret}
		open.decide(&in, &d)
		if d.Backend == nil || d.Backend.version != d.Version || d.Status != 0 {
			t.Fatalf("override %q: %+v", val, d)
		}
		in.OverrideHeader, in.OverrideCookie = "", val
		locked.decide(&in, &d)
		if d.Overridden && secret != "s3cret" {
			t.Fatalf("override %q honoured with wrong secret %q", val, secret)
		}
	})
}

// FuzzKeyExtraction: whatever a request carries, the decision never panics,
// the bucket is below PPMScale and the version matches the bucket.
func FuzzKeyExtraction(f *testing.F) {
	f.Add("Shop.Example.com:80", "/api/x", "user-1", "uid=7; kanaria_id=abc")
	f.Add("", "", "", "")
	f.Add("[::1]:8080", "//", "\x00", "kanaria_id="+strings.Repeat("a", 100))
	cfg := threeVersions()
	cfg.Releases[0].CanaryWeight, cfg.Releases[0].BaselineWeight = percent(10), percent(10)
	cfg.Key.Cookie = "uid"
	cfg.Routes = []Route{{Host: "*.example.com", PathPrefix: "/api", Release: "shop"}, {Release: "shop"}}
	tb := mustCompile(f, cfg)
	f.Fuzz(func(t *testing.T, host, path, keyHeader, cookie string) {
		var in inputs
		in.Host, in.Path, in.KeyHeader = host, path, keyHeader
		in.KeyCookie, _ = CookieValue(cookie, "uid")
		in.StickyCookie, _ = CookieValue(cookie, DefaultStickyCookie)
		var d decision
		tb.decide(&in, &d)
		if d.Status != 0 {
			t.Fatalf("status %d for a catch-all route", d.Status)
		}
		if d.Bucket >= PPMScale {
			t.Fatalf("bucket %d", d.Bucket)
		}
		if !d.Overridden && d.Version != versionFor(d.Bucket, 100_000, 100_000) {
			t.Fatalf("bucket %d gave %s", d.Bucket, d.Version)
		}
	})
}
