package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// Differential fuzzing against net/http. Where both parsers accept a
// message they must read it alike: the same end of the head, the same
// request line and fields, the same body framing, and for a chunked body
// the same data, trailers and end. That is what lets the guard in front of
// net/http follow each connection exactly as net/http will read it.
//
// Where they differ, they differ on purpose, and each difference has a name
// below (knownStricter, goStricter; goStricterChunked in fuzz_body_test.go).
// This package refuses, where net/http accepts or repairs:
//
//   - Content-Length with Transfer-Encoding (net/http drops the length),
//     repeated equal lengths (net/http keeps one), obs-fold (net/http
//     joins the lines), Transfer-Encoding below HTTP/1.1 (net/http ignores
//     it and reads the chunks as the next request): the smuggling policy,
//     RequestBody;
//   - lengths of 19 digits (net/http reads up to 2^63-1);
//   - in a chunked body, sizes over 2^63-1 (net/http reads 16 hex digits as
//     a uint64);
//   - a target with a tab (net/http passes it to url.ParseRequestURI).
//
// net/http refuses, where this package accepts:
//
//   - a request target that is not a URL net/url parses (kanaria passes the
//     target on as it came), a version other than HTTP/x.y, a method or
//     Host count net/http's server checks later (admit refuses what the
//     router does not serve: 400, 405, 505);
//   - in a chunked body, bare LF line ends and spaces before a chunk
//     extension's ';' (RFC 9112 7.1.1 allows BWS there), more than 16 KiB
//     of chunk overhead, and trailer sections net/http's textproto refuses
//     or finds over its 4 KiB buffer (kanaria's fast paths check trailer
//     fields with Line.ValidField; the guard leaves them to net/http);
//   - blank lines before a request line other than after a POST, and more
//     than 4 bytes of them (RFC 9112 2.2 says to ignore at least one).
//
// Every difference is one where net/http refuses, repairs or reads more
// than this package does, never one where net/http reads a message whose
// framing this package reads otherwise.

// FuzzFindHead: finding the head as the bytes arrive in pieces, resuming
// each search, gives what one search over all of them gives, and ReadHead
// reads the same block through a small buffer.
func FuzzFindHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nnext"), uint8(1))
	f.Add([]byte("\r\n\nGET / HTTP/1.1\nHost: a\n\n"), uint8(3))
	f.Add([]byte("\r\r\n\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		n := int(step%16) + 1
		wantStart, wantEnd := FindHead(in, 0)
		searched := 0
		for k := min(n, len(in)); ; k = min(k+n, len(in)) {
			start, end := FindHead(in[:k], searched)
			if end > 0 {
				if start != wantStart || end != wantEnd {
					t.Fatalf("in pieces of %d: %d, %d; whole: %d, %d", n, start, end, wantStart, wantEnd)
				}
				break
			}
			if k == len(in) {
				if wantEnd != 0 {
					t.Fatalf("in pieces of %d the end at %d was never found", n, wantEnd)
				}
				break
			}
			searched = k
		}

		var h Head
		br := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 16)
		if n > 1 {
			br = bufio.NewReaderSize(bytes.NewReader(in), 16)
		}
		err := ReadHead(br, &h, 1<<20)
		switch {
		case wantEnd == 0:
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("no head in %q, ReadHead: %v", in, err)
			}
		case err != nil && err != ErrMalformed:
			t.Fatalf("ReadHead: %v", err)
		case string(h.Buf) != string(in[wantStart:wantEnd]):
			t.Fatalf("ReadHead read %q, FindHead found %q", h.Buf, in[wantStart:wantEnd])
		}
	})
}

// ours is what this package makes of a request head at the start of in.
type ours struct {
	start, end            int
	head                  Head
	parseErr              error
	method, target, proto []byte
	lineOK                bool
	body                  Body
	reason                string
	accepted              bool
}

func readOurs(in []byte) *ours {
	o := &ours{}
	o.start, o.end = FindHead(in, 0)
	if o.end == 0 {
		return o
	}
	o.head.Buf = in[o.start:o.end]
	o.parseErr = o.head.Parse()
	o.method, o.target, o.proto, o.lineOK = RequestLine(o.head.Bytes(o.head.First))
	o.body, o.reason = o.head.RequestBody()
	o.accepted = o.parseErr == nil && o.lineOK && o.reason == ""
	return o
}

// readGo is net/http's reading of the request at the start of in, and how
// many bytes its head took.
func readGo(in []byte) (*http.Request, int, error) {
	r := bytes.NewReader(in)
	br := bufio.NewReader(r)
	req, err := http.ReadRequest(br)
	return req, len(in) - r.Len() - br.Buffered(), err
}

// FuzzRequestHead compares the reading of request heads with net/http's
// http.ReadRequest.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\nX: 1\n folded\n\n",
		"GET http://a/b HTTP/1.1\r\nHost: c\r\nConnection: close, X\r\nX: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o := readOurs(in)
		if o.end == 0 {
			if _, _, err := readGo(in[o.start:]); err == nil && !goReadsWithoutBlankLine(in[o.start:]) {
				t.Fatalf("net/http read a request from %q, which has no whole head", in)
			}
			return
		}
		req, goEnd, goErr := readGo(in[o.start:])
		if goErr == nil && o.lineOK && o.reason == "" {
			// What the guard relies on, even past a malformed line it
			// leaves to net/http: the same end, the same body.
			compareFraming(t, in, o, req, goEnd)
		}
		switch {
		case goErr == nil && o.accepted:
			compareFields(t, in, o, req)
		case goErr == nil:
			if why := knownStricter(o, req); why == "" {
				t.Fatalf("%q: refused here (parse %v, request line ok %v, reason %q) but net/http reads it", in, o.parseErr, o.lineOK, o.reason)
			}
		case o.accepted:
			if why := goStricter(o); why == "" {
				t.Fatalf("%q: accepted here but net/http refuses it: %v", in, goErr)
			}
		}
	})
}

// goReadsWithoutBlankLine: net/http reads a head cut short at EOF when its
// last line lacks only the blank line after it? It does not; kept as the
// one place to say so should it ever change.
func goReadsWithoutBlankLine([]byte) bool { return false }

func compareFraming(t *testing.T, in []byte, o *ours, req *http.Request, goEnd int) {
	t.Helper()
	if goEnd != o.end-o.start {
		t.Fatalf("%q: the head ends at %d here, at %d for net/http", in, o.end-o.start, goEnd)
	}
	switch o.body {
	case BodyChunked:
		if !slices.Equal(req.TransferEncoding, []string{"chunked"}) || req.ContentLength != -1 {
			t.Fatalf("%q: chunked here, net/http: TE %q length %d", in, req.TransferEncoding, req.ContentLength)
		}
	case BodyLength:
		if len(req.TransferEncoding) != 0 || req.ContentLength != o.head.Length {
			t.Fatalf("%q: %d bytes here, net/http: TE %q length %d", in, o.head.Length, req.TransferEncoding, req.ContentLength)
		}
	default:
		if len(req.TransferEncoding) != 0 || req.ContentLength != 0 {
			t.Fatalf("%q: no body here, net/http: TE %q length %d", in, req.TransferEncoding, req.ContentLength)
		}
	}
}

// compareFields: the request line and the fields, by canonical name, in
// order; net/http rewrites the framing fields and Trailer, and adds
// Cache-Control for Pragma: no-cache.
func compareFields(t *testing.T, in []byte, o *ours, req *http.Request) {
	t.Helper()
	if string(o.method) != req.Method || string(o.target) != req.RequestURI || string(o.proto) != req.Proto {
		t.Fatalf("%q: request line %q %q %q, net/http %q %q %q", in, o.method, o.target, o.proto, req.Method, req.RequestURI, req.Proto)
	}
	got := map[string][]string{}
	for _, f := range o.head.Fields {
		k := textproto.CanonicalMIMEHeaderKey(string(o.head.Bytes(f.Name)))
		got[k] = append(got[k], string(o.head.Bytes(f.Value)))
	}
	if req.URL.Host == "" && len(got["Host"]) > 0 && got["Host"][0] != req.Host {
		t.Fatalf("%q: Host %q here, %q for net/http", in, got["Host"][0], req.Host)
	}
	for k, vs := range got {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer", "Cache-Control":
			continue // net/http moves Host to Request.Host and rewrites the rest
		}
		if !slices.Equal(vs, req.Header[k]) {
			t.Fatalf("%q: %s is %q here, %q for net/http", in, k, vs, req.Header[k])
		}
	}
}

// knownStricter names why this package refuses a request net/http reads,
// or returns "" for a difference nobody meant.
func knownStricter(o *ours, req *http.Request) string {
	h := &o.head
	if o.parseErr == nil && o.lineOK {
		switch o.reason {
		case RefuseObsFold:
			return "obs-fold: net/http joins the lines"
		case RefuseLengthAndChunked:
			return "Content-Length with chunked: net/http drops the length"
		case RefuseDuplicateLength:
			return "repeated equal lengths: net/http keeps one"
		case RefuseCodingBefore11:
			return "Transfer-Encoding below HTTP/1.1: net/http ignores it"
		case RefuseInvalidLength:
			if v, _ := h.Get("Content-Length"); len(strings.Trim(string(v), " \t")) > 18 {
				return "a 19-digit length"
			}
		}
	}
	if !o.lineOK && bytes.IndexByte(o.target, '\t') >= 0 || strings.Contains(req.RequestURI, "\t") {
		return "a tab in the target"
	}
	if o.parseErr != nil && spaceInNames(h.Buf) {
		return "a space in a field name: net/http keeps the field, uncanonicalized (go.dev/issue/34540)"
	}
	return ""
}

// spaceInNames reports whether every malformed field line of block would
// be well-formed but for spaces in its name.
func spaceInNames(block []byte) bool {
	lines := strings.Split(strings.TrimRight(string(block), "\r\n"), "\n")
	found := false
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l == "" || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		if _, _, _, ok := splitField([]byte(l)); ok {
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		if !strings.Contains(name, " ") {
			return false
		}
		if _, _, _, ok := splitField([]byte(strings.ReplaceAll(name, " ", "") + ":" + value)); !ok {
			return false
		}
		found = true
	}
	return found
}

// goStricter names why net/http refuses a request this package reads, or
// returns "" for a difference nobody meant.
func goStricter(o *ours) string {
	target := string(o.target)
	if string(o.method) == "CONNECT" && !strings.HasPrefix(target, "/") {
		target = "http://" + target
	}
	if _, err := url.ParseRequestURI(target); err != nil {
		return "a target net/url does not parse"
	}
	if _, _, ok := http.ParseHTTPVersion(string(o.proto)); !ok {
		return "a version that is not HTTP/x.y (admit answers 505)"
	}
	n := 0
	for _, f := range o.head.Fields {
		if EqualFold(o.head.Bytes(f.Name), "Host") {
			n++
		}
	}
	if n > 1 {
		return "more than one Host (admit answers 400)"
	}
	return ""
}
