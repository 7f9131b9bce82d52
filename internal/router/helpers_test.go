package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// upstream is a real HTTP server on loopback standing in for one revision.
// It answers with its revision name and echoes what the router told it.
func upstream(t testing.TB, revision string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", revision)
		w.Header().Set("X-Seen-Version", r.Header.Get(DefaultVersionHeader))
		w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-XFH", r.Header.Get("X-Forwarded-Host"))
		w.Header().Set("X-Seen-XFP", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-Secret", r.Header.Get(DefaultOverrideSecretHeader))
		w.Header().Set("X-Seen-Hop", r.Header.Get("X-Hop"))
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Seen-Body", string(b))
		}
		io.WriteString(w, revision)
	}))
	t.Cleanup(s.Close)
	return s
}

// deadURL returns a loopback URL where nothing listens: a port that was
// just bound and released.
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// percent is a weight written as people write it, for tables built in tests.
func percent(p float64) v1alpha1.Weight {
	w, err := v1alpha1.WeightFromPercent(p)
	if err != nil {
		panic(err)
	}
	return w
}

// twoVersions is a one-release table: stable and canary at the given URLs.
func twoVersions(stableURL, canaryURL string, canaryPct float64) Config {
	return Config{
		Key:    KeyConfig{Header: "X-User", Salt: "test-salt"},
		Routes: []Route{{Release: "shop"}},
		Releases: []Release{{
			Name:         "shop",
			Stable:       Backend{Revision: "v1", Endpoints: []string{stableURL}},
			Canary:       &Backend{Revision: "v2", Endpoints: []string{canaryURL}},
			CanaryWeight: percent(canaryPct),
		}},
	}
}

// frontEnd is one of Serve's HTTP front ends. Every test that proxies
// through a listener runs once per front end (eachFrontEnd), so every path
// keeps the same correctness guarantees. "loop" is the default: the event
// loop where it serves a request itself, the goroutine path where it hands
// a connection over.
type frontEnd struct {
	name   string
	server string // Config.HTTPServer
}

var frontEnds = []frontEnd{{"loop", HTTPServerFast}, {"goroutines", HTTPServerGoroutines}, {"stdlib", HTTPServerStdlib}}

// eachFrontEnd runs test as one subtest per front end.
func eachFrontEnd(t *testing.T, test func(t *testing.T, fe frontEnd)) {
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) { test(t, fe) })
	}
}

// serveRouter starts a Router behind Serve on a loopback listener, using
// front end fe, and returns it with its base URL. Everything stops at test
// cleanup.
func serveRouter(t testing.TB, fe frontEnd, cfg Config) (*Router, string) {
	t.Helper()
	cfg.HTTPServer = fe.server
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	scfg := cfg.WithDefaults() // a copy, taken before the test changes cfg for Update
	go func() { done <- Serve(ctx, ln, r, scfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		r.Close()
	})
	return r, "http://" + ln.Addr().String()
}

// client is an HTTP client with a bound on every request.
func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func get(t testing.TB, c *http.Client, url string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// rawExchange writes raw bytes to addr and returns everything read until
// the server closes the connection (bounded by a deadline).
func rawExchange(t testing.TB, addr, raw string) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	closed := err == nil // EOF: the server closed the connection
	return string(b), closed
}

// statusLines lists the status lines of every response in a raw stream.
// Bodies need not end in a newline, so status lines are found anywhere.
func statusLines(raw string) []string {
	return statusLineRE.FindAllString(raw, -1)
}

var statusLineRE = regexp.MustCompile(`HTTP/1\.1 \d{3} [^\r\n]*`)

// upstreamFunc is a loopback upstream with a custom handler.
func upstreamFunc(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// dialRouter opens a raw connection to the router at base ("http://host:port"),
// with a 10 s deadline on everything; it is closed at test cleanup.
func dialRouter(t testing.TB, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
