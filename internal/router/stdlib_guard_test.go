package router

import (
	"net"
	"net/http"
	"strings"
	"testing"
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
// and alters bytes only by dropping line breaks (the blank lines before a
// request line): Go sees a prefix of the input so thinned, followed only
// by the refusal line when the guard refused, and the same whatever the pieces.
func FuzzGuard(f *testing.F) {
	f.Add([]byte(shapeCLTE), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), uint8(7))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), uint8(5))
	f.Add([]byte("\r\n\nGET / HTTP/1.1\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		out, refused := guardOutput(in, int(step%16)+1)
		whole, wholeRefused := guardOutput(in, len(in)+1)
		if string(out) != string(whole) || refused != wholeRefused {
			t.Fatalf("in pieces of %d: %q (refused %v); at once: %q (refused %v)", step%16+1, out, refused, whole, wholeRefused)
		}
		if refused {
			i := strings.LastIndex(string(out), "kanaria:refused:")
			if i < 0 || !thinned(in, out[:i]) {
				t.Fatalf("refusal output %q is not thinned input + refusal", out)
			}
			return
		}
		if !thinned(in, out) {
			t.Fatalf("guard changed bytes: in %q out %q", in, out)
		}
	})
}

// guardOutput feeds in to a fresh guard n bytes at a time and returns
// what Go would read.
func guardOutput(in []byte, n int) (out []byte, refused bool) {
	g := newGuardConn(nil, 1024)
	for i := 0; i < len(in); i += n {
		g.out = nil
		g.feed(in[i:min(i+n, len(in))])
		out = append(out, g.out...)
		if g.refused {
			return out, true
		}
	}
	return out, false
}

// thinned reports whether out is a prefix of in with only CR and LF bytes
// removed (an incomplete head at the end is held back).
func thinned(in, out []byte) bool {
	i := 0
	for j := 0; j < len(out); j++ {
		for i < len(in) && in[i] != out[j] && (in[i] == '\r' || in[i] == '\n') {
			i++
		}
		if i == len(in) || in[i] != out[j] {
			return false
		}
		i++
	}
	return true
}
