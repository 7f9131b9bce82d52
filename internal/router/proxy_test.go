package router

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Through real HTTP every response must come from exactly the version the
// decision function predicts for its key, and the split must be in bounds.
func TestSplitThroughHTTP(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		_, base := serveRouter(t, fe, twoVersions(st.URL, ca.URL, 10))
		c := client()
		const n = 2000
		onCanary := 0
		for i := 0; i < n; i++ {
			key := "user-" + strconv.Itoa(i)
			resp := get(t, c, base+"/", map[string]string{"X-User": key})
			want := "v1"
			if versionFor(Bucket("test-salt", key), 100_000, 0) == Canary {
				want = "v2"
				onCanary++
			}
			if got := resp.Header.Get("X-Upstream"); got != want {
				t.Fatalf("key %s served by %s, decision says %s", key, got, want)
			}
		}
		sigma := math.Sqrt(n * 0.1 * 0.9)
		if math.Abs(float64(onCanary)-n*0.1) > 4.5*sigma {
			t.Errorf("canary got %d of %d at 10%%", onCanary, n)
		}
	})
}

func TestStickyCookieIssuedOnceAndHonoured(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(st.URL, ca.URL, 50)
		cfg.Key.Header = ""
		_, base := serveRouter(t, fe, cfg)
		c := client()
		resp := get(t, c, base+"/", nil)
		var sticky *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == DefaultStickyCookie {
				sticky = ck
			}
		}
		if sticky == nil {
			t.Fatalf("no %s cookie in %v", DefaultStickyCookie, resp.Header["Set-Cookie"])
		}
		if !sticky.HttpOnly || sticky.SameSite != http.SameSiteLaxMode || sticky.Path != "/" || sticky.MaxAge < 300*24*3600 || sticky.Secure != fe.tls {
			t.Errorf("cookie attributes: %+v", sticky)
		}
		first := resp.Header.Get("X-Upstream")
		if want := map[Version]string{Stable: "v1", Canary: "v2"}[versionFor(Bucket("test-salt", sticky.Value), 500_000, 0)]; first != want {
			t.Errorf("first response from %s, cookie's bucket says %s", first, want)
		}
		for i := 0; i < 20; i++ {
			r := get(t, c, base+"/", map[string]string{"Cookie": sticky.Name + "=" + sticky.Value})
			if r.Header.Get("X-Upstream") != first {
				t.Fatalf("request %d with the cookie moved from %s to %s", i, first, r.Header.Get("X-Upstream"))
			}
			if len(r.Header["Set-Cookie"]) != 0 {
				t.Fatalf("cookie re-issued: %v", r.Header["Set-Cookie"])
			}
		}
	})
}

func TestVersionStampsAndForwardedHeaders(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(st.URL, ca.URL, 0)
		cfg.Overrides.Secret = "open-sesame"
		_, base := serveRouter(t, fe, cfg)
		c := client()
		req, _ := http.NewRequest("GET", base+"/x", nil)
		req.Host = "shop.test"
		req.Header.Set(DefaultVersionHeader, "forged")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		if !fe.h2 { // HTTP/2 has no Connection header
			req.Header.Set("Connection", "X-Hop")
		}
		req.Header.Set("X-Hop", "must not pass")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get(DefaultVersionHeader) != "v1" || h.Get("X-Seen-Version") != "v1" {
			t.Errorf("stamps: response %q upstream %q, want v1", h.Get(DefaultVersionHeader), h.Get("X-Seen-Version"))
		}
		if got := h.Get("X-Seen-XFF"); got != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For upstream = %q", got)
		}
		if h.Get("X-Seen-XFH") != "shop.test" || h.Get("X-Seen-Host") != "shop.test" {
			t.Errorf("host upstream = %q, X-Forwarded-Host = %q", h.Get("X-Seen-Host"), h.Get("X-Seen-XFH"))
		}
		if h.Get("X-Seen-Hop") != "" && !fe.h2 {
			t.Error("hop-by-hop header named in Connection reached the upstream")
		}
		if wantXFP := map[bool]string{false: "http", true: "https"}[fe.tls]; h.Get("X-Seen-XFP") != wantXFP {
			t.Errorf("X-Forwarded-Proto upstream = %q, want %q", h.Get("X-Seen-XFP"), wantXFP)
		}
		// Override with the secret: canary serves, and the secret stays here.
		resp = get(t, c, base+"/", map[string]string{DefaultOverrideHeader: "canary", DefaultOverrideSecretHeader: "open-sesame"})
		if resp.Header.Get(DefaultVersionHeader) != "v2" || resp.Header.Get("X-Seen-Version") != "v2" {
			t.Errorf("override with secret: served %q", resp.Header.Get(DefaultVersionHeader))
		}
		if resp.Header.Get("X-Seen-Secret") != "" {
			t.Error("override secret was forwarded upstream")
		}
		resp = get(t, c, base+"/", map[string]string{DefaultOverrideHeader: "canary", DefaultOverrideSecretHeader: "wrong"})
		if resp.Header.Get(DefaultVersionHeader) != "v1" {
			t.Errorf("override with a wrong secret honoured: %q", resp.Header.Get(DefaultVersionHeader))
		}
		resp = get(t, c, base+"/", map[string]string{"Cookie": DefaultOverrideCookie + "=v2", DefaultOverrideSecretHeader: "open-sesame"})
		if resp.Header.Get(DefaultVersionHeader) != "v2" {
			t.Errorf("override cookie naming revision v2: served %q", resp.Header.Get(DefaultVersionHeader))
		}
	})
}

func TestCustomHeaderNames(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(st.URL, ca.URL, 100)
		cfg.VersionHeader = "x-served-by"
		_, base := serveRouter(t, fe, cfg)
		resp := get(t, client(), base+"/", map[string]string{"X-User": "a"})
		if resp.Header.Get("X-Served-By") != "v2" {
			t.Errorf("custom response header: %v", resp.Header)
		}
	})
}

// A dead canary: an idempotent request is served by stable and counted as
// a canary connection failure; a POST with a body is not replayed.
func TestRetryOnDeadCanary(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st := upstream(t, "v1")
		cfg := twoVersions(st.URL, deadURL(t), 100)
		cfg.Releases[0].Health.EjectAfter = 1000 // keep ejection out of this test
		r, base := serveRouter(t, fe, cfg)
		c := client()
		resp := get(t, c, base+"/", map[string]string{"X-User": "u"})
		if resp.StatusCode != 200 || resp.Header.Get(DefaultVersionHeader) != "v1" || resp.Header.Get("X-Seen-Version") != "v1" {
			t.Fatalf("GET on dead canary: %d served by %q (upstream saw %q)", resp.StatusCode, resp.Header.Get(DefaultVersionHeader), resp.Header.Get("X-Seen-Version"))
		}
		req, _ := http.NewRequest("POST", base+"/", strings.NewReader("order=1"))
		req.Header.Set("X-User", "u")
		presp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		presp.Body.Close()
		if presp.StatusCode != http.StatusBadGateway || presp.Header.Get(DefaultVersionHeader) != "v2" {
			t.Errorf("POST on dead canary: %d stamped %q, want 502 stamped v2", presp.StatusCode, presp.Header.Get(DefaultVersionHeader))
		}
		cc, sc := r.Telemetry().Counts("shop", Canary), r.Telemetry().Counts("shop", Stable)
		if cc.ByClass[0] != 2 || cc.Total() != 2 {
			t.Errorf("canary counts %+v, want 2 connection failures", cc)
		}
		if sc.ByClass[2] != 1 {
			t.Errorf("stable counts %+v, want one 2xx", sc)
		}
		smp := r.Telemetry().Samples("shop", Canary, time.Now().Add(-time.Minute))
		if len(smp) != 2 || smp[0].Status != 0 {
			t.Errorf("canary samples %+v", smp)
		}
	})
}

// EjectAfter consecutive failures take a dead endpoint out of the
// rotation: after exactly that many errors, every request succeeds.
func TestPassiveEjection(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		live := upstream(t, "v1")
		cfg := twoVersions(live.URL, live.URL, 0)
		cfg.Releases[0].Stable.Endpoints = []string{live.URL, deadURL(t)}
		cfg.Releases[0].Health = HealthConfig{EjectAfter: 2, EjectFor: v1alpha1.Duration(time.Minute)}
		r, base := serveRouter(t, fe, cfg)
		c := client()
		failed := 0
		for i := 0; i < 20; i++ {
			if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.StatusCode != 200 {
				failed++
				if resp.StatusCode != 502 || resp.Header.Get(DefaultVersionHeader) != "v1" {
					t.Errorf("failure answered %d stamped %q", resp.StatusCode, resp.Header.Get(DefaultVersionHeader))
				}
			}
		}
		if failed != 2 {
			t.Errorf("%d failed requests, want exactly EjectAfter=2", failed)
		}
		// The ejection survives a table swap that keeps the endpoint.
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.StatusCode != 200 {
				t.Fatalf("after Update the dead endpoint is back in rotation: %d", resp.StatusCode)
			}
		}
	})
}

// Active checks mark an endpoint down when its health path fails, before
// any user request has to fail on it.
func TestActiveHealthCheck(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		good := upstream(t, "v1")
		// The sick instance answers users but fails its health path.
		sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				w.WriteHeader(503)
				return
			}
			w.Header().Set("X-Upstream", "v1-sick")
		}))
		t.Cleanup(sick.Close)
		cfg := twoVersions(good.URL, good.URL, 0)
		cfg.Releases[0].Stable.Endpoints = []string{good.URL, sick.URL}
		cfg.Releases[0].Health = HealthConfig{CheckPath: "/healthz", CheckInterval: v1alpha1.Duration(50 * time.Millisecond)}
		r, base := serveRouter(t, fe, cfg)
		deadline := time.Now().Add(5 * time.Second)
		var ep *endpoint
		for _, e := range r.tbl.Load().releases[0].versions[0].endpoints {
			if e.raw == sick.URL {
				ep = e
			}
		}
		for !ep.down.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !ep.down.Load() {
			t.Fatal("sick endpoint never marked down")
		}
		c := client()
		for i := 0; i < 10; i++ {
			if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.Header.Get("X-Upstream") != "v1" {
				t.Fatalf("request %d went to the sick endpoint", i)
			}
		}
		// Turning checks off forgets their verdicts: nobody would revise them.
		cfg.Releases[0].Health = HealthConfig{}
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if ep.down.Load() {
			t.Error("endpoint still down after health checks were removed")
		}
	})
}

func TestUpdateKeepsTelemetryAndEndpointState(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(st.URL, ca.URL, 100)
		r, base := serveRouter(t, fe, cfg)
		c := client()
		get(t, c, base+"/", map[string]string{"X-User": "a"})
		epBefore := r.tbl.Load().releases[0].versions[1].endpoints[0]
		cfg.Releases[0].CanaryWeight = percent(50)
		cfg.Routes = append(cfg.Routes, Route{PathPrefix: "/new", Release: "shop"})
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if r.tbl.Load().releases[0].versions[1].endpoints[0] != epBefore {
			t.Error("Update replaced an unchanged endpoint (its ejection state would be lost)")
		}
		if n := r.Telemetry().Counts("shop", Canary).ByClass[2]; n != 1 {
			t.Errorf("canary 2xx after Update = %d, want 1 kept", n)
		}
		cfg.Releases[0].Canary.Revision = "v3"
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if got := r.Telemetry().Counts("shop", Canary); got.Revision != "v3" || got.Total() != 0 {
			t.Errorf("new canary revision inherited old counts: %+v", got)
		}
		bad := cfg
		bad.Routes = []Route{{Release: "missing"}}
		if err := r.Update(bad); err == nil {
			t.Error("Update accepted a route to a missing release")
		}
		if len(r.Config().Routes) != 2 {
			t.Error("a refused Update changed the table")
		}
	})
}

func TestNoRouteAndKeyRequired(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st := upstream(t, "v1")
		cfg := twoVersions(st.URL, st.URL, 0)
		cfg.Routes = []Route{{Host: "shop.test", Release: "shop"}}
		cfg.Key.Required, cfg.Key.DisableStickyCookie = true, true
		_, base := serveRouter(t, fe, cfg)
		c := client()
		if resp := get(t, c, base+"/", nil); resp.StatusCode != 404 {
			t.Errorf("unknown host: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = "shop.test"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("missing required key: %d", resp.StatusCode)
		}
	})
}

// Two independent routers sharing a salt send every key to the same
// version, with no shared state: what lets routers scale out.
func TestTwoRoutersAgree(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		cfg := twoVersions(st.URL, ca.URL, 30)
		_, a := serveRouter(t, fe, cfg)
		_, b := serveRouter(t, fe, cfg)
		c := client()
		for i := 0; i < 300; i++ {
			h := map[string]string{"Cookie": DefaultStickyCookie + "=id" + strconv.Itoa(i)}
			va := get(t, c, a+"/", h).Header.Get(DefaultVersionHeader)
			vb := get(t, c, b+"/", h).Header.Get(DefaultVersionHeader)
			if va != vb {
				t.Fatalf("key id%d: router A says %s, router B says %s", i, va, vb)
			}
		}
	})
}
