package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kanaria-dev/kanaria/internal/engine"
)

// login posts the token and returns the session cookie and CSRF value.
func login(t *testing.T, ts *httptest.Server, token string) (*http.Cookie, string) {
	t.Helper()
	resp, err := http.Post(ts.URL+"/dashboard/login", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var si sessionInfo
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&si) != nil || si.CSRF == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c, si.CSRF
		}
	}
	t.Fatal("login set no session cookie")
	return nil, ""
}

// cookieCall does one request with a session cookie and optional CSRF value.
func cookieCall(t *testing.T, ts *httptest.Server, method, path string, c *http.Cookie, csrf string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, nil)
	if c != nil {
		req.AddCookie(c)
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLoginRefusals(t *testing.T) {
	_, ts := newTestServer(t)
	cases := []struct {
		name, body, origin string
		code               int
	}{
		{"wrong token", `{"token":"nope"}`, "", 401},
		{"no token", `{}`, "", 400},
		{"not JSON", `token=` + testToken, "", 400},
		{"other origin", `{"token":"` + testToken + `"}`, "http://evil.example", 403},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", ts.URL+"/dashboard/login", strings.NewReader(c.body))
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d with %d cookies, want %d and none", c.name, resp.StatusCode, len(resp.Cookies()), c.code)
		}
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	_, ts := newTestServer(t)
	req, _ := http.NewRequest("POST", ts.URL+"/dashboard/login", strings.NewReader(`{"token":"`+testToken+`"}`))
	req.Header.Set("Origin", ts.URL) // the dashboard's own page
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "Path=/", "HttpOnly", "SameSite=Strict", "Max-Age="} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(set, testToken) {
		t.Fatal("the cookie carries the token itself")
	}
}

func TestSessionAuthAndCSRF(t *testing.T) {
	b, ts := newTestServer(t)
	c, csrf := login(t, ts, testToken)

	if code, body := cookieCall(t, ts, "GET", "/v1/rollouts", c, ""); code != 200 || !strings.Contains(body, `"web"`) {
		t.Fatalf("GET with session: %d %q", code, body)
	}
	b.Do(context.Background(), "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	before := len(b.Calls())
	if code, _ := cookieCall(t, ts, "POST", "/v1/rollouts/web/pause", c, ""); code != 403 {
		t.Fatalf("POST without CSRF header: %d, want 403", code)
	}
	if code, _ := cookieCall(t, ts, "POST", "/v1/rollouts/web/pause", c, csrf+"x"); code != 403 {
		t.Fatalf("POST with a wrong CSRF value: %d, want 403", code)
	}
	if calls := b.Calls(); len(calls) != before {
		t.Fatalf("refused POSTs reached the backend: %v", calls[before:])
	}
	if code, body := cookieCall(t, ts, "POST", "/v1/rollouts/web/pause", c, csrf); code != 200 || !strings.Contains(body, `"Paused"`) {
		t.Fatalf("POST with CSRF: %d %q", code, body)
	}
	// Another session's CSRF value does not fit this session.
	_, csrf2 := login(t, ts, testToken)
	if code, _ := cookieCall(t, ts, "POST", "/v1/rollouts/web/resume", c, csrf2); code != 403 {
		t.Fatalf("POST with another session's CSRF: %d, want 403", code)
	}
	// A made-up session id is no session.
	fake := &http.Cookie{Name: sessionCookie, Value: "made-up"}
	if code, _ := cookieCall(t, ts, "GET", "/v1/rollouts", fake, ""); code != 401 {
		t.Fatalf("made-up session: %d, want 401", code)
	}
	if code, body := cookieCall(t, ts, "GET", "/dashboard/session", c, ""); code != 200 || !strings.Contains(body, csrf) {
		t.Fatalf("session: %d %q", code, body)
	}

	// Logout needs the CSRF value too, then ends the session server-side.
	if code, _ := cookieCall(t, ts, "POST", "/dashboard/logout", c, ""); code != 403 {
		t.Fatalf("logout without CSRF: %d, want 403", code)
	}
	if code, _ := cookieCall(t, ts, "POST", "/dashboard/logout", c, csrf); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	for _, p := range []string{"/v1/rollouts", "/dashboard/session"} {
		if code, _ := cookieCall(t, ts, "GET", p, c, ""); code != 401 {
			t.Fatalf("%s after logout: %d, want 401", p, code)
		}
	}
}

func TestSessionsAreBounded(t *testing.T) {
	d := &dashboard{sessions: map[[32]byte]session{}}
	for i := range maxSessions + 10 {
		d.add(strings.Repeat("x", i+1), session{csrf: "c"})
	}
	if len(d.sessions) != maxSessions {
		t.Fatalf("%d sessions kept, want at most %d", len(d.sessions), maxSessions)
	}
}

func TestDashboardPages(t *testing.T) {
	_, ts := newTestServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != 302 || loc.Path != "/dashboard/" {
		t.Fatalf("/: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]string{
		"/dashboard/":         `id="login-form"`,
		"/dashboard/app.js":   "X-Kanaria-CSRF",
		"/dashboard/chart.js": "function drawChart",
		"/dashboard/app.css":  ".steps",
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, body lacks %q", path, resp.StatusCode, want)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: no anti-framing headers: %v", path, resp.Header)
		}
	}
}
