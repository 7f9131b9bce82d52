package router

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
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
// a connection over. "tls" is the default front end with tls: set, spoken
// to in HTTP/1.1 (the goroutine path over crypto/tls), and "h2" the same
// listener spoken to in HTTP/2 (net/http's HTTP/2 server after ALPN).
type frontEnd struct {
	name   string
	server string // Config.HTTPServer
	tls    bool   // the listener has a certificate (testCert)
	h2     bool   // clients ask for h2 in ALPN
}

var frontEnds = []frontEnd{
	{name: "loop", server: HTTPServerFast},
	{name: "goroutines", server: HTTPServerGoroutines},
	{name: "stdlib", server: HTTPServerStdlib},
	{name: "tls", server: HTTPServerFast, tls: true},
	{name: "h2", server: HTTPServerFast, tls: true, h2: true},
}

// eachFrontEnd runs test as one subtest per front end.
func eachFrontEnd(t *testing.T, test func(t *testing.T, fe frontEnd)) {
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) { test(t, fe) })
	}
}

// onNetHTTP reports whether fe's requests are proxied by net/http
// (httputil.ReverseProxy and http.Transport): stdlib only. HTTP/2 requests
// are served by net/http's HTTP/2 server but proxied over the router's own
// upstream pool (h2Handler).
func (fe frontEnd) onNetHTTP() bool { return fe.server == HTTPServerStdlib }

// configure sets cfg up for fe: its HTTPServer and, for a TLS front end,
// the test certificate.
func (fe frontEnd) configure(t testing.TB, cfg *Config) {
	cfg.HTTPServer = fe.server
	if fe.tls {
		cert := testCert(t)
		cfg.TLS = &TLSConfig{CertFile: cert.certFile, KeyFile: cert.keyFile}
	}
}

// baseURL is the URL of a listener at addr serving fe. An h2 front end's
// address is remembered so client() speaks HTTP/2 to it.
func (fe frontEnd) baseURL(addr string) string {
	if !fe.tls {
		return "http://" + addr
	}
	if fe.h2 {
		h2Hosts.Store(addr, true)
	}
	return "https://" + addr
}

// serveRouter starts a Router behind Serve on a loopback listener, using
// front end fe, and returns it with its base URL. Everything stops at test
// cleanup.
func serveRouter(t testing.TB, fe frontEnd, cfg Config) (*Router, string) {
	t.Helper()
	fe.configure(t, &cfg)
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
	return r, fe.baseURL(ln.Addr().String())
}

// client is an HTTP client with a bound on every request. It trusts the
// test certificate, speaks HTTP/1.1 over TLS, and HTTP/2 to the listeners
// of the h2 front end (h2Hosts), where an answer in another protocol is
// an error.
func client() *http.Client {
	pool := testCertPool()
	return &http.Client{Timeout: 10 * time.Second, Transport: &frontEndTransport{
		h1: &http.Transport{MaxIdleConnsPerHost: 64,
			TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}},
		h2: &http.Transport{MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: pool}},
	}}
}

// h2Hosts holds the addresses (host:port) of h2 front ends' listeners.
var h2Hosts sync.Map

// frontEndTransport sends a request with h2 when its host is in h2Hosts.
type frontEndTransport struct{ h1, h2 *http.Transport }

func (ft *frontEndTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := h2Hosts.Load(req.URL.Host); !ok || req.URL.Scheme != "https" {
		return ft.h1.RoundTrip(req)
	}
	resp, err := ft.h2.RoundTrip(req)
	if err == nil && resp.ProtoMajor != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("h2 front end answered in %s", resp.Proto)
	}
	return resp, err
}

// CloseIdleConnections is http.Client's hook for closing idle connections.
func (ft *frontEndTransport) CloseIdleConnections() {
	ft.h1.CloseIdleConnections()
	ft.h2.CloseIdleConnections()
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

// rawExchange writes raw bytes to the router at base (a URL from
// serveRouter, or a bare host:port for plain HTTP) and returns everything
// read until the server closes the connection (bounded by a deadline).
// Raw bytes are HTTP/1.1: on an h2 front end's listener the test is
// skipped, the tls front end covers its HTTP/1.1.
func rawExchange(t testing.TB, base, raw string) (string, bool) {
	t.Helper()
	c := dialRaw(t, base)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	closed := err == nil // EOF: the server closed the connection
	return string(b), closed
}

// dialRaw opens a connection for raw HTTP/1.1 bytes to base: TCP, or TLS
// with ALPN http/1.1 for an https URL (see rawExchange for h2).
func dialRaw(t testing.TB, base string) net.Conn {
	t.Helper()
	addr, isTLS := strings.CutPrefix(base, "https://")
	if !isTLS {
		addr = strings.TrimPrefix(base, "http://")
	}
	if _, ok := h2Hosts.Load(addr); ok && isTLS {
		t.Skip("raw HTTP/1.1 bytes: the tls front end covers this listener's HTTP/1.1")
	}
	if !isTLS {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	d := &tls.Dialer{Config: &tls.Config{RootCAs: testCertPool(), NextProtos: []string{"http/1.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// dialRouter opens a raw connection to the router at base (see
// dialRaw), with a 10 s deadline on everything; it is closed at test
// cleanup.
func dialRouter(t testing.TB, base string) net.Conn {
	t.Helper()
	c := dialRaw(t, base)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
