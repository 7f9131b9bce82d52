package h1

import "testing"

func TestRequestBody(t *testing.T) {
	for _, c := range []struct {
		fields string
		body   Body
		reason string
	}{
		{"", BodyNone, ""},
		{"Content-Length: 0\r\n", BodyLength, ""},
		{"Content-Length: 12\r\n", BodyLength, ""},
		{"Transfer-Encoding: chunked\r\n", BodyChunked, ""},
		{"Transfer-Encoding: CHUNKED\r\n", BodyChunked, ""},
		{"X: 1\r\n folded\r\n", BodyNone, RefuseObsFold},
		{"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", BodyNone, RefuseLengthAndChunked},
		{"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", BodyNone, RefuseLengthAndChunked},
		{"Content-Length: 3\r\nContent-Length: 3\r\n", BodyNone, RefuseDuplicateLength},
		{"Content-Length: 3\r\nContent-Length: 5\r\n", BodyNone, RefuseDuplicateLength},
		{"Content-Length: 3, 3\r\n", BodyNone, RefuseDuplicateLength},
		{"Content-Length: +3\r\n", BodyNone, RefuseInvalidLength},
		{"Content-Length: 0x3\r\n", BodyNone, RefuseInvalidLength},
		{"Content-Length: \r\n", BodyNone, RefuseInvalidLength},
		{"Content-Length: 9999999999999999999\r\n", BodyNone, RefuseInvalidLength},
		{"Transfer-Encoding: gzip, chunked\r\n", BodyNone, RefuseCoding},
		{"Transfer-Encoding: identity\r\n", BodyNone, RefuseCoding},
		{"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", BodyNone, RefuseCoding},
	} {
		h := parsed(t, "POST / HTTP/1.1\r\nHost: a\r\n"+c.fields+"\r\n")
		if body, reason := h.RequestBody(); body != c.body || reason != c.reason {
			t.Errorf("%q: %v %q, want %v %q", c.fields, body, reason, c.body, c.reason)
		}
	}
	for _, version := range []string{"HTTP/1.0", "HTTP/0.9"} {
		h := parsed(t, "POST / "+version+"\r\nTransfer-Encoding: chunked\r\n\r\n")
		if _, reason := h.RequestBody(); reason != RefuseCodingBefore11 {
			t.Errorf("chunked in %s: %q", version, reason)
		}
	}
	if _, reason := parsed(t, "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n").RequestBody(); reason != "" {
		t.Errorf("a length in HTTP/1.0: %q", reason)
	}
}

// Control characters other than tab are never accepted where a proxy
// passes bytes on: field values, the request target, the reason phrase,
// trailer fields.
func TestControlCharactersRefused(t *testing.T) {
	for _, v := range []string{"a\rb", "a\x00b", "a\x7fb", "a\x1bb", "\x01"} {
		h := &Head{Buf: []byte("GET / HTTP/1.1\r\nX: " + v + "\r\n\r\n")}
		if h.Parse() != ErrMalformed {
			t.Errorf("value %q accepted", v)
		}
		if _, _, _, ok := RequestLine([]byte("GET /" + v + " HTTP/1.1")); ok {
			t.Errorf("target %q accepted", v)
		}
		if _, ok := StatusCode([]byte("HTTP/1.1 200 O" + v)); ok {
			t.Errorf("reason phrase %q accepted", v)
		}
		if (Line{Kind: TrailerField, Text: []byte("T: " + v)}).ValidField() {
			t.Errorf("trailer value %q accepted", v)
		}
	}
	h := parsed(t, "GET / HTTP/1.1\r\nX: a\tb \xff\xfe\r\n\r\n") // tab and obs-text are allowed
	if v, _ := h.Get("X"); string(v) != "a\tb \xff\xfe" {
		t.Errorf("value %q", v)
	}
	if _, _, _, ok := RequestLine([]byte("GET /a\tb HTTP/1.1")); ok {
		t.Error("a tab in the target accepted")
	}
}

func TestResponseBodyAndPersistence(t *testing.T) {
	for _, c := range []struct {
		head      string
		code      int
		toHEAD    bool
		body      Body
		ok, reuse bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 200, false, BodyLength, true, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n", 200, false, BodyLength, true, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n", 200, false, BodyLength, false, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n", 200, false, BodyLength, false, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", 200, false, BodyChunked, true, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n", 200, false, BodyChunked, false, true},
		{"HTTP/1.1 200 OK\r\n", 200, false, BodyUntilClose, true, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 200, true, BodyNone, true, true},
		{"HTTP/1.1 304 Not Modified\r\n", 304, false, BodyNone, true, true},
		{"HTTP/1.1 204 No Content\r\nConnection: close\r\n", 204, false, BodyNone, true, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n", 200, false, BodyLength, true, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n", 200, false, BodyLength, true, true},
	} {
		h := parsed(t, c.head+"\r\n")
		body, ok := h.ResponseBody(c.code, c.toHEAD)
		if body != c.body || ok != c.ok {
			t.Errorf("%q: %v %v, want %v %v", c.head, body, ok, c.body, c.ok)
		}
		if reuse := h.Persistent(body); ok && reuse != c.reuse {
			t.Errorf("%q: persistent %v, want %v", c.head, reuse, c.reuse)
		}
	}
}

func TestRequestLineAndStatusCode(t *testing.T) {
	for l, ok := range map[string]bool{
		"GET / HTTP/1.1": true, "OPTIONS * HTTP/1.0": true, "GET http://a/b HTTP/1.1": true,
		"GET  / HTTP/1.1": false, "GET /": false, "G(T / HTTP/1.1": false, "GET / HTTP/1.1 x": false, " / HTTP/1.1": false,
	} {
		if _, _, _, got := RequestLine([]byte(l)); got != ok {
			t.Errorf("RequestLine(%q) ok=%v", l, got)
		}
	}
	for l, want := range map[string]int{
		"HTTP/1.1 200 OK": 200, "HTTP/1.0 404": 404, "HTTP/1.1 103 Early Hints": 103,
		"HTTP/1.1 20 OK": 0, "HTTP/2 200 OK": 0, "HTTP/1.1 200OK": 0, "HTTP/1.1 600 X": 0,
	} {
		code, ok := StatusCode([]byte(l))
		if !ok {
			code = 0
		}
		if code != want {
			t.Errorf("StatusCode(%q) = %d, want %d", l, code, want)
		}
	}
}
