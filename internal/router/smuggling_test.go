package router

import (
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
