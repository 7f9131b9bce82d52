package router

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

const adminToken = "test-token-123"

// newAdmin starts a real Router (upstreams are loopback servers, though the
// admin API never calls them) and its admin API on 127.0.0.1.
func newAdmin(t *testing.T) (*Router, string) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(up.Close)
	cfg := validConfig()
	for _, b := range []*Backend{&cfg.Releases[0].Stable, cfg.Releases[0].Canary, cfg.Releases[0].Baseline} {
		b.Endpoints = []string{up.URL}
	}
	// A second release with no canary or baseline: weights for it are refused.
	cfg.Releases = append(cfg.Releases, Release{Name: "solo", Stable: Backend{Revision: "s1", Endpoints: []string{up.URL}}})
	cfg.Routes = append(cfg.Routes, Route{Host: "solo.example.com", Release: "solo"})
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(NewAdminHandler(r, adminToken))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// call sends one admin request and returns status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustWeights(t *testing.T, r *Router, name string, c, b uint32) {
	t.Helper()
	got, ok := r.Weights(name)
	if !ok || got != (v1alpha1.Weights{CanaryPPM: v1alpha1.Weight(c), BaselinePPM: v1alpha1.Weight(b)}) {
		t.Fatalf("weights of %s = %d, %d (%v); want %d, %d", name, got.CanaryPPM, got.BaselinePPM, ok, c, b)
	}
}

func TestAdminAuth(t *testing.T) {
	r, base := newAdmin(t)
	mustWeights(t, r, "shop", 100000, 100000)
	for _, tok := range []string{"", "wrong", adminToken + "x", adminToken[:5]} {
		for _, m := range []struct{ method, path, body string }{
			{"GET", "/v1/config", ""},
			{"PUT", "/v1/releases/shop/weights", `{"canaryWeight":50}`},
			{"PUT", "/v1/config", `{"routes":[],"releases":[]}`},
			{"GET", "/nope", ""},
		} {
			code, _ := call(t, m.method, base+m.path, tok, m.body)
			if code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d, want 401", m.method, m.path, tok, code)
			}
		}
	}
	mustWeights(t, r, "shop", 100000, 100000)
	if len(r.Config().Releases) != 2 {
		t.Fatal("an unauthorised PUT changed the table")
	}
	if code, body := call(t, "GET", base+"/healthz", "", ""); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %s", code, body)
	}
}

func TestAdminEmptyTokenRefusesAll(t *testing.T) {
	r, _ := newAdmin(t)
	srv := httptest.NewServer(NewAdminHandler(r, ""))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/config", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("empty token accepted: %d", resp.StatusCode)
	}
}

func TestAdminSetAndReadWeights(t *testing.T) {
	r, base := newAdmin(t)
	code, body := call(t, "PUT", base+"/v1/releases/shop/weights", adminToken, `{"canaryWeight":12.5,"baselineWeight":0.1}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	mustWeights(t, r, "shop", 125000, 1000)
	code, body = call(t, "GET", base+"/v1/releases/shop/weights", adminToken, "")
	var got weightsView
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if got.CanaryWeight != percent(12.5) || got.BaselineWeight != percent(0.1) || got.CanaryPPM != 125000 || got.BaselinePPM != 1000 {
		t.Fatalf("read back %+v", got)
	}
	// ppm form, and leaving one weight out keeps it.
	if code, body := call(t, "PUT", base+"/v1/releases/shop/weights", adminToken, `{"canaryPPM":1}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	mustWeights(t, r, "shop", 1, 1000)
	// The table the admin API reports agrees with the router.
	code, body = call(t, "GET", base+"/v1/config", adminToken, "")
	var cfg Config
	if err := json.Unmarshal([]byte(body), &cfg); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	if cfg.Releases[0].CanaryWeight != percent(0.0001) {
		t.Fatalf("config canaryWeight %v, want 0.0001", cfg.Releases[0].CanaryWeight)
	}
}

func TestAdminRefusesBadWeightsAndChangesNothing(t *testing.T) {
	r, base := newAdmin(t)
	cases := []struct{ release, body, want string }{
		{"shop", `{"canaryWeight":-1}`, "canaryWeight: -1 is below 0%"},
		{"shop", `{"canaryWeight":101}`, "canaryWeight: 101 is above 100%"},
		{"shop", `{"baselineWeight":100.5}`, "baselineWeight: 100.5 is above 100%"},
		{"shop", `{"canaryWeight":60,"baselineWeight":50}`, "60% + 50% is above 100%"},
		{"shop", `{"canaryWeight":95}`, "95% + 10% is above 100%"}, // baseline stays 10
		{"shop", `{"canaryPPM":-5}`, "canaryPPM: -5 is below 0"},
		{"shop", `{"canaryPPM":1000001}`, "canaryPPM: 1000001 is above"},
		{"shop", `{"canaryWeight":1,"canaryPPM":1}`, "not both"},
		{"shop", `{"canaryWeight":"ten"}`, "canaryWeight"},
		{"shop", `{"canaryWieght":5}`, "unknown field"},
		{"shop", `{"canaryWeight":5} {}`, "more than one"},
		{"shop", `not json`, "not valid JSON"},
		{"solo", `{"canaryWeight":1}`, "has no canary backend"},
		{"solo", `{"baselineWeight":1}`, "has no baseline backend"},
	}
	for _, tc := range cases {
		code, body := call(t, "PUT", base+"/v1/releases/"+tc.release+"/weights", adminToken, tc.body)
		if code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want 400 containing %q", tc.body, code, body, tc.want)
		}
		mustWeights(t, r, "shop", 100000, 100000)
		mustWeights(t, r, "solo", 0, 0)
	}
	if code, _ := call(t, "PUT", base+"/v1/releases/nope/weights", adminToken, `{"canaryWeight":1}`); code != 404 {
		t.Errorf("unknown release: %d, want 404", code)
	}
	if code, _ := call(t, "GET", base+"/v1/releases/nope/weights", adminToken, ""); code != 404 {
		t.Errorf("unknown release: %d, want 404", code)
	}
	big := `{"canaryWeight":1,"x":"` + strings.Repeat("a", MaxAdminBodyBytes) + `"}`
	if code, _ := call(t, "PUT", base+"/v1/releases/shop/weights", adminToken, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d, want 413", code)
	}
	mustWeights(t, r, "shop", 100000, 100000)
}

func TestAdminPutConfig(t *testing.T) {
	r, base := newAdmin(t)
	before := r.Config()
	bad := before
	bad.Releases = append([]Release(nil), before.Releases...)
	bad.Releases[0].CanaryWeight = percent(101)
	bad.Routes = append(append([]Route(nil), before.Routes...), Route{Release: "ghost"})
	b, _ := json.Marshal(bad)
	code, body := call(t, "PUT", base+"/v1/config", adminToken, string(b))
	if code != 400 {
		t.Fatalf("bad table: %d %s", code, body)
	}
	var eb jsonhttp.Error
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, p := range eb.Problems {
		paths[p.Path] = true
	}
	if !paths["releases[0].canaryWeight"] || !paths["routes[2].release"] {
		t.Fatalf("problems %+v lack field paths", eb.Problems)
	}
	mustWeights(t, r, "shop", 100000, 100000)
	if len(r.Config().Routes) != len(before.Routes) {
		t.Fatal("a refused table changed the routes")
	}
	if code, _ := call(t, "PUT", base+"/v1/config", adminToken, `{"routes":[],"releases":[],"bogus":1}`); code != 400 {
		t.Fatalf("unknown field accepted: %d", code)
	}

	good := before
	good.Releases = append([]Release(nil), before.Releases...)
	good.Releases[0].CanaryWeight, good.Releases[0].BaselineWeight = percent(1), percent(1)
	b, _ = json.Marshal(good)
	if code, body := call(t, "PUT", base+"/v1/config", adminToken, string(b)); code != 200 {
		t.Fatalf("good table: %d %s", code, body)
	}
	mustWeights(t, r, "shop", 10000, 10000)
}

// TestAdminSamples: the samples endpoint answers, per version, the requests
// the router proxied with the revision they were of, only those since the
// time asked, and refuses a bad version or time without a token check
// being skipped.
func TestAdminSamples(t *testing.T) {
	stable := upstream(t, "v1")
	canary := upstreamFunc(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	r, proxy := serveRouter(t, frontEnds[0], twoVersions(stable.URL, canary.URL, 100))
	srv := httptest.NewServer(NewAdminHandler(r, adminToken))
	t.Cleanup(srv.Close)
	c := client()
	for i := range 5 {
		resp := get(t, c, proxy+"/", map[string]string{"X-User": fmt.Sprint("u", i)})
		resp.Body.Close()
	}
	read := func(query string) SamplesView {
		t.Helper()
		code, body := call(t, "GET", srv.URL+"/v1/releases/shop/samples?"+query, adminToken, "")
		if code != http.StatusOK {
			t.Fatalf("samples?%s: %d %s", query, code, body)
		}
		var v SamplesView
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := read("version=canary")
	if v.Revision != "v2" || len(v.Samples) != 5 {
		t.Fatalf("canary samples: revision %q, %d samples; want v2, 5", v.Revision, len(v.Samples))
	}
	for _, s := range v.Samples {
		if s.Status != http.StatusInternalServerError || s.Latency <= 0 {
			t.Fatalf("sample %+v: want status 500 and a latency", s)
		}
	}
	if after := read(fmt.Sprintf("version=canary&since=%d", v.Samples[4].UnixNano+1)); len(after.Samples) != 0 {
		t.Fatalf("%d samples after the last one", len(after.Samples))
	}
	if st := read("version=stable"); st.Revision != "v1" || len(st.Samples) != 0 {
		t.Fatalf("stable (v1) served nothing at 100 %% canary, got %+v", st)
	}
	if none := read("version=baseline"); none.Revision != "" || len(none.Samples) != 0 {
		t.Fatalf("the release has no baseline, got %+v", none)
	}
	for _, q := range []string{"version=nope", "version=canary&since=yesterday"} {
		if code, _ := call(t, "GET", srv.URL+"/v1/releases/shop/samples?"+q, adminToken, ""); code != http.StatusBadRequest {
			t.Errorf("samples?%s: %d, want 400", q, code)
		}
	}
	if code, _ := call(t, "GET", srv.URL+"/v1/releases/shop/samples?version=canary", "", ""); code != http.StatusUnauthorized {
		t.Errorf("samples without a token: %d, want 401", code)
	}
}
