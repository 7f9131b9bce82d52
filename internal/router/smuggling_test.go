package router

import (
	"net"
	"net/http"
	"strings"
	"testing"
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
)

// TestGoServerFramingBaseline records what a bare net/http server does with
// each shape, which is why the guard exists: if Go starts refusing the
// accepted shapes itself, this test tells us the guard can shrink.
func TestGoServerFramingBaseline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	defer srv.Close()
	accepted := map[string]bool{}
	for name, raw := range map[string]string{"CL+TE": shapeCLTE, "dupCL": shapeDupCL, "conflictingCL": shapeConflCL, "TE gzip": shapeTEGzip} {
		out, _ := rawExchange(t, ln.Addr().String(), raw+"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		accepted[name] = strings.HasPrefix(out, "HTTP/1.1 200")
		t.Logf("bare Go server, %s: %q", name, firstLine(out))
	}
	if !accepted["CL+TE"] || !accepted["dupCL"] {
		t.Logf("Go now refuses CL+TE (%v) or duplicate CL (%v) itself", !accepted["CL+TE"], !accepted["dupCL"])
	}
	if accepted["conflictingCL"] || accepted["TE gzip"] {
		t.Errorf("Go accepted conflicting lengths or an unknown coding: the guard must cover it")
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

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
			"TE twice": shapeTETwice, "obs-fold": shapeTEObsFold,
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

// The guard must also work when bytes arrive one at a time.
func TestGuardByteAtATime(t *testing.T) {
	g := newGuardConn(nil, 1024)
	raw := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" + shapeCLTE
	for i := 0; i < len(raw); i++ {
		g.feed([]byte{raw[i]})
	}
	want := raw[:len(raw)-len(shapeCLTE)] + "kanaria:refused:content-length-with-transfer-encoding\r\n\r\n"
	if string(g.out) != want || !g.refused {
		t.Errorf("guard output %q refused=%v", g.out, g.refused)
	}
}

// FuzzGuard: whatever arrives, in whatever pieces, the guard never panics
// and never alters bytes: Go sees a prefix of the input, followed only by
// the refusal line when the guard refused.
func FuzzGuard(f *testing.F) {
	f.Add([]byte(shapeCLTE), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), uint8(7))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		n := int(step%16) + 1
		g := newGuardConn(nil, 1024)
		var out []byte
		for i := 0; i < len(in); i += n {
			g.out = nil
			g.feed(in[i:min(i+n, len(in))])
			out = append(out, g.out...)
			if g.refused {
				break
			}
		}
		if g.refused {
			i := strings.LastIndex(string(out), "kanaria:refused:")
			if i < 0 || !strings.HasPrefix(string(in), string(out[:i])) {
				t.Fatalf("refusal output %q is not input prefix + refusal", out)
			}
			return
		}
		if !strings.HasPrefix(string(in), string(out)) {
			t.Fatalf("guard changed bytes: in %q out %q", in, out)
		}
	})
}
