package router

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// The event loop serves the common request itself and hands everything
// else to the goroutine path; this is what keeps it both fast and correct.
// The counters say which path answered.
func TestLoopServesCommonRequestsAndHandsOffTheRest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the event loop needs epoll")
	}
	up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write([]byte("part two"))
		case "/hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			io.WriteString(w, "after hints")
		default:
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
		}
	})
	r, base := serveRouter(t, frontEnd{name: "loop", server: HTTPServerFast}, twoVersions(up.URL, up.URL, 10))
	c := client()
	do := func(method, path, body string, hdr map[string]string) string {
		t.Helper()
		var rd io.Reader = strings.NewReader(body)
		if strings.HasPrefix(body, "chunked:") {
			rd = io.MultiReader(rd) // no length known: the client sends it chunked
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if body == "" {
			req.Body = nil
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	cases := []struct {
		name                string
		method, path, body  string
		hdr                 map[string]string
		want                string
		served, handedOffTo uint64 // expected counter increments
	}{
		{"GET", "GET", "/a", "", nil, "GET /a 0", 1, 0},
		{"HEAD", "HEAD", "/a", "", nil, "", 1, 0},
		{"DELETE without body", "DELETE", "/a", "", nil, "DELETE /a 0", 1, 0},
		{"POST with body", "POST", "/a", "hello", nil, "POST /a 5", 1, 0},
		{"POST with a body over 4 KiB", "POST", "/a", strings.Repeat("p", 5000), nil, "POST /a 5000", 0, 1},
		{"POST with a chunked body", "POST", "/a", "chunked:abc", nil, "POST /a 11", 0, 1},
		{"POST with Expect", "POST", "/a", "hello", map[string]string{"Expect": "100-continue"}, "POST /a 5", 0, 1},
		{"large head", "GET", "/big", "", map[string]string{"X-Big": strings.Repeat("b", 6000)}, "GET /big 0", 0, 1},
		{"chunked answer", "GET", "/chunked", "", nil, "part one,part two", 1, 0},
		{"103 Early Hints", "GET", "/hints", "", nil, "after hints", 0, 1},
	}
	loop := r.Telemetry().Loop()
	for _, tc := range cases {
		served, handed := loop.Served.Load(), loop.HandedOff.Load()
		for i := 0; i < 3; i++ { // again on the same connection: handed-off ones stay on the goroutine path
			hdr := map[string]string{"X-User": fmt.Sprint("u", i)}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			if got := do(tc.method, tc.path, tc.body, hdr); got != tc.want {
				t.Errorf("%s: body %q, want %q", tc.name, got, tc.want)
			}
			c.CloseIdleConnections()
		}
		if d := loop.Served.Load() - served; d != 3*tc.served {
			t.Errorf("%s: loop served %d of 3", tc.name, d)
		}
		if d := loop.HandedOff.Load() - handed; d != 3*tc.handedOffTo {
			t.Errorf("%s: %d of 3 handed off, want %d", tc.name, d, 3*tc.handedOffTo)
		}
	}
}

// Pipelined requests are answered in order, each from its own upstream
// exchange, and "Connection: close" on the last one ends the connection.
func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		if fe.server == HTTPServerStdlib {
			t.Skip("net/http serves pipelined requests one at a time too, but not what this test is about")
		}
		up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		var raw strings.Builder
		for _, p := range []string{"/one", "/two", "/three"} {
			fmt.Fprintf(&raw, "GET %s HTTP/1.1\r\nHost: x\r\nX-User: u\r\n", p)
			if p == "/three" {
				raw.WriteString("Connection: close\r\n")
			}
			raw.WriteString("\r\n")
		}
		out, closed := rawExchange(t, strings.TrimPrefix(base, "http://"), raw.String())
		if !closed {
			t.Error("connection not closed after Connection: close")
		}
		if n := len(statusLines(out)); n != 3 {
			t.Fatalf("%d answers, want 3:\n%s", n, out)
		}
		i1, i2, i3 := strings.Index(out, "\r\n\r\n/one"), strings.Index(out, "\r\n\r\n/two"), strings.Index(out, "\r\n\r\n/three")
		if i1 < 0 || i2 < i1 || i3 < i2 {
			t.Errorf("answers out of order:\n%s", out)
		}
	})
}

// A request written one byte at a time (a slow or hostile client) is
// assembled and served like any other.
func TestRequestByteAtATime(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		conn := dialRouter(t, base)
		req := "\r\nGET /slow HTTP/1.1\r\nHost: x\r\nX-User: u\r\n\r\n" // a stray CRLF first, as RFC 9112 2.2 allows
		for i := 0; i < len(req); i++ {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "v1" {
			t.Errorf("got %d %q", resp.StatusCode, b)
		}
	})
}

// An upstream that accepts a request and never answers costs the client
// Timeouts.ResponseHeader, then a 504 naming the revision.
func TestResponseHeaderTimeout(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		release := make(chan struct{})
		up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		defer close(release)
		cfg := twoVersions(up.URL, up.URL, 0)
		cfg.Timeouts.ResponseHeader = v1alpha1.Duration(300 * time.Millisecond)
		_, base := serveRouter(t, fe, cfg)
		start := time.Now()
		resp := get(t, client(), base+"/", map[string]string{"X-User": "u"})
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
		if el := time.Since(start); el < 300*time.Millisecond {
			t.Errorf("answered after %v, before the timeout", el)
		}
		if v := resp.Header.Get(DefaultVersionHeader); v != "v1" {
			t.Errorf("504 stamped %q, want v1", v)
		}
	})
}

// A large answer reaches a slow reader intact: the router relays it in
// pieces as the client takes them rather than buffering it whole.
func TestLargeAnswerToSlowReader(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	sum := sha256.Sum256(body)
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		})
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		for round := 0; round < 2; round++ { // the second reuses both connections
			req, _ := http.NewRequest("GET", base+"/big", nil)
			req.Header.Set("X-User", "u")
			resp, err := client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			buf := make([]byte, 32<<10)
			for i := 0; ; i++ {
				if i < 20 {
					time.Sleep(2 * time.Millisecond) // slow at first: the router must wait for the client
				}
				n, err := resp.Body.Read(buf)
				h.Write(buf[:n])
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			if !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Fatalf("round %d: body differs from what the upstream sent", round)
			}
		}
	})
}

// A keep-alive connection left idle is closed after Timeouts.Idle.
func TestIdleClientConnectionClosed(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		cfg := twoVersions(up.URL, up.URL, 0)
		cfg.Timeouts.Idle = v1alpha1.Duration(300 * time.Millisecond)
		_, base := serveRouter(t, fe, cfg)
		conn := dialRouter(t, base)
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-User: u\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle connection: read gave %v, want EOF", err)
		}
		if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
			t.Errorf("closed after %v idle, want about 300ms", el)
		}
	})
}

// When an update removes an endpoint, the router's idle connections to it
// are closed: nothing would take them from the pool again.
func TestIdleUpstreamConnectionsClosedWhenEndpointRemoved(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		if fe.onNetHTTP() {
			t.Skip("net/http's Transport keeps its own idle connections until IdleConnTimeout")
		}
		closed := make(chan struct{}, 16)
		old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "old") }))
		old.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				closed <- struct{}{}
			}
		}
		old.Start()
		t.Cleanup(old.Close)
		next := upstream(t, "next")
		cfg := twoVersions(old.URL, old.URL, 0)
		r, base := serveRouter(t, fe, cfg)
		c := client()
		if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		cfg.Releases[0].Stable.Endpoints = []string{next.URL}
		cfg.Releases[0].Canary.Endpoints = []string{next.URL}
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.Header.Get("X-Upstream") != "next" {
			t.Fatalf("served by %q after the update", resp.Header.Get("X-Upstream"))
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("the idle connection to the removed endpoint is still open")
		}
	})
}

// A chunked answer is relayed re-encoded the way copyChunked does it (sizes
// normalised, extensions dropped, trailers kept), and broken framing ends
// the client's connection after what was relayed.
func TestChunkedAnswerRelayed(t *testing.T) {
	answers := map[string]string{
		"/good": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"05;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
		"/bad": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
	}
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		if fe.server == HTTPServerStdlib {
			t.Skip("net/http re-frames answers its own way")
		}
		up := rawUpstream(t, func(path string) string { return answers[path] })
		_, base := serveRouter(t, fe, twoVersions(up, up, 0))
		conn := dialRouter(t, base)
		io.WriteString(conn, "GET /good HTTP/1.1\r\nHost: x\r\nX-User: u\r\n\r\n")
		br := bufio.NewReader(conn)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		want := "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			t.Fatalf("body %q (%v), want %q; head:\n%s", got, err, want, head.String())
		}
		if !strings.Contains(head.String(), "Transfer-Encoding: chunked\r\n") {
			t.Errorf("head without chunked framing:\n%s", head.String())
		}
		io.WriteString(conn, "GET /bad HTTP/1.1\r\nHost: x\r\nX-User: u\r\n\r\n")
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Fatalf("connection not closed after a broken chunk: %v", err)
		}
		if !strings.Contains(string(rest), "5\r\nhello\r\n") || strings.Contains(string(rest), "zz") {
			t.Errorf("after a broken chunk the client got %q", rest)
		}
	})
}

// rawUpstream is a loopback upstream that answers each request with the
// raw bytes answer(path) gives, keeping the connection open.
func rawUpstream(t testing.TB, answer func(path string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, answer(req.URL.Path))
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}
