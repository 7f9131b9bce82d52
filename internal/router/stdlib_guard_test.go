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
