package h1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func parsed(t testing.TB, block string) *Head {
	t.Helper()
	h := &Head{Buf: []byte(block)}
	if err := h.Parse(); err != nil {
		t.Fatalf("Parse(%q): %v", block, err)
	}
	return h
}

func TestParseFieldsAndHopByHop(t *testing.T) {
	h := parsed(t, "GET /x HTTP/1.1\r\nHost: a\r\nX-Keep:  v 1 \t\r\nConnection: keep-alive, X-Drop\r\n"+
		"x-drop: gone\r\nKeep-Alive: 5\nUpgrade: websocket\r\nContent-Length: 12\r\n\r\n")
	if got := string(h.Bytes(h.First)); got != "GET /x HTTP/1.1" {
		t.Errorf("first line %q", got)
	}
	want := []struct {
		name, val string
		hop       bool
	}{
		{"Host", "a", false}, {"X-Keep", "v 1", false}, {"Connection", "keep-alive, X-Drop", true},
		{"x-drop", "gone", true}, {"Keep-Alive", "5", true}, {"Upgrade", "websocket", true}, {"Content-Length", "12", true},
	}
	if len(h.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(h.Fields), len(want))
	}
	for i, w := range want {
		f := h.Fields[i]
		if string(h.Bytes(f.Name)) != w.name || string(h.Bytes(f.Value)) != w.val || f.Hop != w.hop {
			t.Errorf("field %d: %q: %q hop=%v, want %+v", i, h.Bytes(f.Name), h.Bytes(f.Value), f.Hop, w)
		}
	}
	if !h.KeepAlive || h.Close || h.ConnUpgrade || h.Upgrade != 5 || h.Length != 12 || h.Lengths != 1 {
		t.Errorf("keepAlive=%v close=%v connUpgrade=%v upgrade=%d length=%d lengths=%d",
			h.KeepAlive, h.Close, h.ConnUpgrade, h.Upgrade, h.Length, h.Lengths)
	}
	if v, ok := h.Get("HOST"); !ok || string(v) != "a" {
		t.Errorf("Get(HOST) = %q, %v", v, ok)
	}
	if _, ok := h.Get("Missing"); ok {
		t.Error("Get found a missing field")
	}
}

// A malformed line is reported, but the fields after it are still parsed:
// the net/http guard judges their framing whatever Go later says about
// the malformed line.
func TestParseReportsMalformedAfterReadingTheRest(t *testing.T) {
	for _, bad := range []string{"No colon here", "Name : spaced", ": empty name", "Na\x01me: ctl"} {
		h := &Head{Buf: []byte("POST / HTTP/1.1\r\n" + bad + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")}
		if err := h.Parse(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err %v", bad, err)
		}
		if _, reason := h.RequestBody(); reason != RefuseLengthAndChunked {
			t.Errorf("%q: fields after the malformed line were not judged: %q", bad, reason)
		}
	}
}

func TestParseReusesTheHead(t *testing.T) {
	h := parsed(t, "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	h.Buf = []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := h.Parse(); err != nil {
		t.Fatal(err)
	}
	if h.Lengths != 0 || h.Codings != 0 || h.Length != -1 || h.Chunked || h.Close || len(h.Fields) != 1 {
		t.Errorf("state of the previous head survived: %+v", h)
	}
}

func TestFindHead(t *testing.T) {
	for _, c := range []struct {
		in         string
		start, end int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 0, 27},
		{"GET / HTTP/1.1\nHost: a\n\nrest", 0, 24},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 0, 26},
		{"\r\n\nGET / HTTP/1.1\r\n\r\n", 3, 21},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0, 0},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", 0, 0},
		{"\r\n\r", 2, 0},        // a lone '\r' may yet be a blank line
		{"\r\rGET /\n\n", 0, 9}, // "\r\r" is not a blank line: it starts the block
		{"A\r\r\n\n", 0, 5},
		{"", 0, 0},
	} {
		start, end := FindHead([]byte(c.in), 0)
		if start != c.start || end != c.end {
			t.Errorf("FindHead(%q) = %d, %d; want %d, %d", c.in, start, end, c.start, c.end)
		}
	}
}

func TestReadHead(t *testing.T) {
	in := "\r\n\nGET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\nHost: b\n\n\r\nGET /c HTTP/1.1\r\n"
	for name, r := range map[string]io.Reader{
		"whole":          strings.NewReader(in),
		"byte at a time": iotest.OneByteReader(strings.NewReader(in)),
	} {
		br := bufio.NewReaderSize(r, 16)
		var h Head
		for _, want := range []string{"GET /a HTTP/1.1", "GET /b HTTP/1.1"} {
			if err := ReadHead(br, &h, 1024); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := string(h.Bytes(h.First)); got != want {
				t.Errorf("%s: first line %q, want %q", name, got, want)
			}
		}
		if err := ReadHead(br, &h, 1024); err != io.ErrUnexpectedEOF {
			t.Errorf("%s: a head cut short: %v", name, err)
		}
	}
	br := bufio.NewReader(strings.NewReader("\r\n\r\n"))
	if err := ReadHead(br, new(Head), 1024); err != io.EOF {
		t.Errorf("blank lines, then a clean close: %v", err)
	}
	block := "GET / HTTP/1.1\r\nX: " + strings.Repeat("x", 100) + "\r\n\r\n"
	if err := ReadHead(bufio.NewReaderSize(strings.NewReader(block), 16), new(Head), len(block)); err != nil {
		t.Errorf("a block of exactly the limit: %v", err)
	}
	if err := ReadHead(bufio.NewReaderSize(strings.NewReader(block), 16), new(Head), len(block)-1); err != ErrTooLarge {
		t.Errorf("a block over the limit: %v", err)
	}
}

func TestReadHeadDoesNotAllocate(t *testing.T) {
	in := strings.Repeat("GET /cart HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uid=42\r\nAccept: */*\r\n\r\n", 200)
	r := strings.NewReader(in)
	br := bufio.NewReader(r)
	var h Head
	ReadHead(br, &h, 4096) // the buffers grow once
	n := testing.AllocsPerRun(100, func() {
		if err := ReadHead(br, &h, 4096); err != nil {
			r.Reset(in)
			br.Reset(r)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per head", n)
	}
}

// validText's word-at-a-time check agrees with the byte-by-byte one for
// every byte in every position of a word.
func TestValidTextWordAtATime(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			b := []byte("abcdefghijk")
			b[pos] = byte(c)
			if got, want := validText(b), validBytes(b); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
}
