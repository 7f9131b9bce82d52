package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
)

// FuzzChunked: a chunked body followed in pieces reads as it does whole,
// and where net/http reads it too, it reads the same data and trailers and
// ends at the same byte.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"A\nabcdefghij\n0\n\n",
		"0000000000000003\r\nabc\r\n0\r\n\r\n",
		"3\r\nabcX\r\n",
		"0\r\nT: 1\r\n folded\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(1))
	}
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	f.Fuzz(func(t *testing.T, body []byte, step uint8) {
		data, out, end := rechunk(body, len(body))
		if d, o, e := rechunk(body, int(step%16)+1); d != data || o != out || e != end {
			t.Fatalf("%q in pieces of %d: %q %q %d; whole: %q %q %d", body, step%16+1, d, o, e, data, out, end)
		}
		trailers := trailerFields(body, end)

		in := append([]byte(head), body...)
		r := bytes.NewReader(in)
		br := bufio.NewReader(r)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatal(err)
		}
		goData, goErr := io.ReadAll(req.Body)
		goEnd := len(in) - r.Len() - br.Buffered() - len(head)
		switch {
		case goErr == nil && end >= 0:
			if string(goData) != data || goEnd != end {
				t.Fatalf("%q: %q ending at %d here, %q ending at %d for net/http", body, data, end, goData, goEnd)
			}
			// Trailers are compared where kanaria passes them on, all
			// well-formed fields (obs-fold among them is not).
			want, valid := http.Header{}, true
			for _, l := range trailers {
				colon, va, vb, ok := splitField([]byte(l))
				valid = valid && ok
				if ok {
					want.Add(l[:colon], l[va:vb])
				}
			}
			if valid && len(want) > 0 && !trailersEqual(want, req.Trailer) {
				t.Fatalf("%q: trailers %q here, %q for net/http", body, want, req.Trailer)
			}
		case goErr == nil:
			t.Fatalf("%q: net/http reads %q ending at %d; here: %d", body, goData, goEnd, end)
		case end >= 0:
			if why := goStricterChunked(body, end, trailers); why == "" {
				t.Fatalf("%q: read here (%q ending at %d), net/http refuses: %v", body, data, end, goErr)
			}
		}
	})
}

// trailerFields lists the trailer lines of a chunked body that ended at
// end, without their line ends.
func trailerFields(body []byte, end int) []string {
	if end < 0 {
		return nil
	}
	var d Chunked
	var lines []string
	for p := body[:end]; !d.Done(); {
		if k := d.Left(); k > 0 {
			p = p[k:]
			d.Skip(k)
			continue
		}
		n, l := d.Next(p)
		if l.Kind == TrailerField {
			lines = append(lines, string(l.Text))
		}
		p = p[n:]
	}
	return lines
}

func trailersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// goStricterChunked names why net/http refuses a chunked body this package
// reads, or returns "" for a difference nobody meant.
func goStricterChunked(body []byte, end int, trailers []string) string {
	var d Chunked
	overhead := 0
	for p := body[:end]; len(p) > 0; {
		if k := d.Left(); k > 0 {
			p = p[k:]
			d.Skip(k)
			continue
		}
		n, l := d.Next(p)
		line := p[:n]
		if n < 2 || line[n-2] != '\r' {
			return "a bare LF ending a line (net/http wants CRLF throughout chunked framing)"
		}
		if l.Kind == ChunkSize || l.Kind == LastChunk {
			if semi := bytes.IndexByte(line, ';'); semi > 0 && (line[semi-1] == ' ' || line[semi-1] == '\t') {
				return "space before a chunk extension"
			}
			if bytes.IndexByte(line, '\r') < len(line)-2 {
				return "a CR inside a size line"
			}
			overhead += n
		}
		p = p[n:]
	}
	if overhead > 16<<10 {
		return "more than 16 KiB of chunk overhead"
	}
	if len(trailers) > 0 {
		return "trailers (net/http's textproto judges them; kanaria's fast paths check them with Line.ValidField)"
	}
	return ""
}

// FuzzResponseHead compares the framing of response bodies with net/http's
// http.ReadResponse: where both accept a response, its body is delimited
// alike.
func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, toHEAD bool) {
		start, end := FindHead(in, 0)
		if end == 0 || start > 0 {
			return // net/http reads no blank lines before a status line
		}
		h := Head{Buf: in[:end]}
		if h.Parse() != nil {
			return
		}
		code, ok := StatusCode(h.Bytes(h.First))
		if !ok || code < 200 {
			return
		}
		body, ok := h.ResponseBody(code, toHEAD)
		if !ok {
			return
		}
		method := "GET"
		if toHEAD {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), &http.Request{Method: method})
		if err != nil {
			return
		}
		goChunked := slices.Equal(resp.TransferEncoding, []string{"chunked"})
		switch body {
		case BodyNone: // net/http may report the fields, but reads nothing
			if b, err := io.ReadAll(resp.Body); len(b) > 0 || err != nil {
				t.Fatalf("%q: no body here, net/http read %q (%v)", in, b, err)
			}
		case BodyLength:
			if resp.ContentLength != h.Length || goChunked {
				t.Fatalf("%q: %d bytes here, net/http: length %d TE %q", in, h.Length, resp.ContentLength, resp.TransferEncoding)
			}
		case BodyChunked:
			if !goChunked {
				t.Fatalf("%q: chunked here, net/http: length %d TE %q", in, resp.ContentLength, resp.TransferEncoding)
			}
		case BodyUntilClose:
			if resp.ContentLength != -1 || goChunked {
				t.Fatalf("%q: until close here, net/http: length %d TE %q", in, resp.ContentLength, resp.TransferEncoding)
			}
		}
	})
}
