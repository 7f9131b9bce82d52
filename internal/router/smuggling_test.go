package router

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	shapeCLTE      = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	shapeTECL      = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
	shapeDupCL     = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
	shapeListCL    = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc"
	shapeConflCL   = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
	shapeTEGzip    = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
	shapeTEIdent   = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"
	shapeTETwice   = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	shapeTEObsFold = "POST / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n chunked\r\nContent-Length: 0\r\n\r\n"
	// net/http ignores Transfer-Encoding below HTTP/1.1 and would read the
	// chunks as the next request.
	shapeTEHTTP10 = "POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
)

// Every smuggling shape gets 400 and a closed connection, also when it
// follows a good pipelined request on the same connection.
func TestSmugglingShapesRefused(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		addr := strings.TrimPrefix(base, "http://")
		shapes := map[string]string{
			"CL+TE": shapeCLTE, "TE+CL": shapeTECL, "duplicate CL": shapeDupCL, "CL list": shapeListCL,
			"conflicting CL": shapeConflCL, "TE gzip": shapeTEGzip, "TE identity": shapeTEIdent,
			"TE twice": shapeTETwice, "obs-fold": shapeTEObsFold, "TE in HTTP/1.0": shapeTEHTTP10,
			"TE in HTTP/1.0 before CL+TE": shapeTEHTTP10[:len(shapeTEHTTP10)-5] + shapeCLTE,
		}
		good := "POST / HTTP/1.1\r\nHost: a\r\nX-User: u\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
		for name, raw := range shapes {
			t.Run(name, func(t *testing.T) {
				out, closed := rawExchange(t, addr, raw+"GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
				if got := statusLines(out); len(got) != 1 || !strings.HasPrefix(got[0], "HTTP/1.1 400") || !closed {
					t.Errorf("alone: responses %v, closed=%v", got, closed)
				}
				out, closed = rawExchange(t, addr, good+raw)
				got := statusLines(out)
				if len(got) != 2 || !strings.HasPrefix(got[0], "HTTP/1.1 200") || !strings.HasPrefix(got[1], "HTTP/1.1 400") || !closed {
					t.Errorf("after a good request: responses %v, closed=%v", got, closed)
				}
			})
		}
	})
}

// Blank lines before a request line (RFC 9112 2.2: a server SHOULD ignore
// at least one) are ignored on every front end: before the first request,
// between pipelined ones, as CRLF or a bare LF, in the same write as the
// request or in one of their own.
func TestStrayCRLFBeforeRequest(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: a\r\nX-User: u\r\n\r\n" }
		for name, parts := range map[string][]string{
			"CRLF first":            {"\r\n" + get("/1")},
			"two CRLFs and a LF":    {"\r\n\r\n\n" + get("/1")},
			"CRLF between":          {get("/1") + "\r\n" + get("/2")},
			"CRLF after a body":     {"POST / HTTP/1.1\r\nHost: a\r\nX-User: u\r\nContent-Length: 2\r\n\r\nab\r\n" + get("/2")},
			"CRLF in its own write": {get("/1"), "\r\n", get("/2")},
		} {
			t.Run(name, func(t *testing.T) {
				c := dialRouter(t, base)
				br := bufio.NewReader(c)
				n := 0
				for _, p := range parts {
					if _, err := io.WriteString(c, p); err != nil {
						t.Fatal(err)
					}
					if strings.HasSuffix(p, "\r\n\r\n") || strings.HasSuffix(p, "ab\r\n"+get("/2")) {
						time.Sleep(20 * time.Millisecond) // each write its own read, where it matters
					}
				}
				for _, p := range parts {
					n += strings.Count(p, " HTTP/1.1\r\n")
				}
				for i := 0; i < n; i++ {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("response %d of %d: %v", i+1, n, err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "v1" {
						t.Errorf("response %d: %d %q", i+1, resp.StatusCode, b)
					}
				}
			})
		}
	})
}

// Legitimate keep-alive traffic keeps flowing through the guard: fixed
// lengths, chunked bodies with extensions and trailers, and bodyless
// requests, pipelined in one write.
func TestGuardKeepsPipelinedRequests(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		raw := "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
			"\r\n" + // a stray blank line between requests is allowed
			"POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n" +
			"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n" +
			"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
		out, closed := rawExchange(t, strings.TrimPrefix(base, "http://"), raw)
		got := statusLines(out)
		if len(got) != 4 || !closed {
			t.Fatalf("responses %v closed=%v\n%s", got, closed, out)
		}
		for _, l := range got {
			if !strings.HasPrefix(l, "HTTP/1.1 200") {
				t.Errorf("response %q", l)
			}
		}
		if !strings.Contains(out, "X-Seen-Body: hello world") {
			t.Error("chunked body did not arrive whole upstream")
		}
	})
}

// A control character (a bare CR, NUL, DEL ...) in a request's target or
// field values, or in an answer's fields, is never passed on: a server
// further on might split a message there (RFC 9110 5.5). The request gets
// 400 without reaching the upstream; the answer is a 502.
func TestControlCharactersNotPassedOn(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		var reached atomic.Int32
		up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		addr := strings.TrimPrefix(base, "http://")
		for name, raw := range map[string]string{
			"CR in a value":  "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n",
			"NUL in a value": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n",
			"DEL in a value": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x7f\r\n\r\n",
			"CR in target":   "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n",
		} {
			out, closed := rawExchange(t, addr, raw)
			if got := statusLines(out); len(got) != 1 || !strings.HasPrefix(got[0], "HTTP/1.1 400") || !closed {
				t.Errorf("%s: responses %v, closed=%v", name, got, closed)
			}
		}
		if n := reached.Load(); n != 0 {
			t.Errorf("%d of the requests reached the upstream", n)
		}

		bad := rawUpstream(t, func(path string) string {
			if path == "/trailer" {
				return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: a\x01b\r\n\r\n"
			}
			return "HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok"
		})
		_, base = serveRouter(t, fe, twoVersions(bad, bad, 0))
		if resp := get(t, client(), base+"/", map[string]string{"X-User": "u"}); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("answer with a CR in a field: %d, want 502", resp.StatusCode)
		}
		resp, err := client().Get(base + "/trailer")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("an answer with a control character in a trailer arrived whole (trailer %v)", resp.Trailer)
		}
	})
}
