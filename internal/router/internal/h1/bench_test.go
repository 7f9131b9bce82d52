package h1

import (
	"bufio"
	"strings"
	"testing"
)

// A request head like the ones bench/router.sh sends (wrk with a cookie).
const benchHead = "GET /cart?item=42 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: wrk\r\n" +
	"Accept: */*\r\nCookie: uid=user-1234; theme=dark\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"

// BenchmarkFindAndParse is what the event loop does with a head that
// arrived whole in its buffer: find its end, parse it in place, apply the
// framing policy. It must not allocate.
func BenchmarkFindAndParse(b *testing.B) {
	buf := []byte(benchHead)
	var h Head
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		_, end := FindHead(buf, 0)
		h.Buf = buf[:end]
		if h.Parse() != nil {
			b.Fatal("parse")
		}
		if _, reason := h.RequestBody(); reason != "" {
			b.Fatal(reason)
		}
	}
}

// BenchmarkReadHead is the goroutine path's reading of a head from a
// bufio.Reader. It must not allocate.
func BenchmarkReadHead(b *testing.B) {
	in := strings.Repeat(benchHead, 64)
	r := strings.NewReader(in)
	br := bufio.NewReader(r)
	var h Head
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHead)))
	for i := 0; i < b.N; i++ {
		if err := ReadHead(br, &h, 1<<16); err != nil {
			r.Reset(in)
			br.Reset(r)
			if err := ReadHead(br, &h, 1<<16); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkChunked follows and re-encodes a chunked body of 16 chunks of
// 1 KiB, as the loop's relayBody does.
func BenchmarkChunked(b *testing.B) {
	body := strings.Repeat("400;x=1\r\n"+strings.Repeat("d", 1024)+"\r\n", 16) + "0\r\nT: 1\r\n\r\n"
	p := []byte(body)
	out := make([]byte, 0, 2*len(p))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		var d Chunked
		out = out[:0]
		for r := p; !d.Done(); {
			if k := d.Left(); k > 0 {
				out = append(out, r[:k]...)
				r = r[k:]
				d.Skip(k)
				continue
			}
			n, l := d.Next(r)
			if l.Kind == Malformed || l.Kind == Incomplete {
				b.Fatal("malformed")
			}
			out = l.Append(out)
			r = r[n:]
		}
	}
}
