// Package h1 is HTTP/1.1 message framing for kanaria's router, written
// once for its three front ends (the event loop, the goroutine path and the
// guard in front of net/http):
//
//   - where a header block ends (FindHead, ReadHead), with the stray blank
//     lines a client may send before a request line;
//   - a header block parsed into fields described by offsets (Head), with
//     what framing and connection handling need and which fields are
//     hop-by-hop;
//   - the framing policy (Head.RequestBody, Head.ResponseBody): how a body is
//     delimited, and the request-smuggling shapes that are refused, never
//     repaired, with one set of reasons;
//   - chunked bodies followed line by line and re-encoded (Chunked).
//
// Nothing here allocates once a Head's buffers have grown, and nothing does
// I/O but ReadHead, which reads from a bufio.Reader: the callers own their
// sockets and buffers. Where this package and net/http's parser disagree
// on purpose, fuzz_test.go says so.
package h1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
)

// Span is a byte range [A, B) of a Head's Buf.
type Span struct{ A, B int32 }

// Field is one header line: its name and its value without the spaces and
// tabs around it.
type Field struct {
	Name, Value Span
	Hop         bool // hop-by-hop: a proxy does not forward it
}

// Head is one parsed header block, a request's or a response's. Buf holds
// the block's bytes (line ends kept) and everything else describes them by
// offset, so one Head serves message after message without allocating.
type Head struct {
	Buf    []byte
	First  Span // the request line or status line, without its line end
	Fields []Field

	Lengths int   // Content-Length fields seen
	Length  int64 // the Content-Length value; -1 when absent or not a plain number
	Codings int   // Transfer-Encoding fields seen
	Chunked bool  // the only Transfer-Encoding is exactly "chunked"
	ObsFold bool  // a continuation line (obs-fold) was seen

	// The tokens of the Connection fields.
	Close, KeepAlive, ConnUpgrade bool
	Upgrade                       int // index in Fields of the Upgrade field, -1 if none

	lengthBad  bool // a Content-Length that is not a plain number
	lengthList bool // a Content-Length holding a list ("3, 3")
}

// ErrMalformed is a header line that is not "name: value" with a token for
// a name and a value without control characters (splitField).
var ErrMalformed = errors.New("malformed header block")

// Bytes returns the bytes s describes.
func (h *Head) Bytes(s Span) []byte { return h.Buf[s.A:s.B] }

// Parse splits Buf into the start line and fields and records what framing
// and connection handling need. It stops at the first blank line. A
// malformed line is skipped and reported as ErrMalformed once the rest is
// parsed, so that a caller that leaves the judgement to someone else (the
// net/http guard) still sees every framing field. What to refuse is the
// framing policy's (RequestBody, ResponseBody).
func (h *Head) Parse() error {
	h.Fields = h.Fields[:0]
	h.Lengths, h.Codings, h.Length, h.Chunked, h.ObsFold = 0, 0, -1, false, false
	h.lengthBad, h.lengthList = false, false
	h.Close, h.KeepAlive, h.ConnUpgrade, h.Upgrade = false, false, false, -1
	h.First = Span{}
	var err error
	n := int32(len(h.Buf))
	for pos, first := int32(0), true; pos < n; {
		end := n // the line's '\n', or the end of a block without one
		if i := bytes.IndexByte(h.Buf[pos:], '\n'); i >= 0 {
			end = pos + int32(i)
		}
		le := end // without the line end
		if le > pos && h.Buf[le-1] == '\r' {
			le--
		}
		next := end + 1
		switch {
		case first:
			h.First, first = Span{pos, le}, false
		case le == pos: // the blank line ending the block
			h.hopNamedInConnection()
			return err
		case h.Buf[pos] == ' ' || h.Buf[pos] == '\t':
			h.ObsFold = true
		default:
			if !h.field(pos, le) {
				err = ErrMalformed
			}
		}
		pos = next
	}
	h.hopNamedInConnection()
	return err
}

// field parses the header line Buf[a:b] and appends it, or reports false
// for a malformed one.
func (h *Head) field(a, b int32) bool {
	colon, va, vb, ok := splitField(h.Buf[a:b])
	if !ok {
		return false
	}
	f := Field{Name: Span{a, a + colon}, Value: Span{a + va, a + vb}}
	h.classify(&f, len(h.Fields))
	h.Fields = append(h.Fields, f)
	return true
}

// splitField checks a field line (without its line end) and splits it:
// the name is line[:colon], the value, without the spaces and tabs around
// it, line[va:vb]. The name must be a token right before the colon ("Name
// :" and other spacing tricks are refused, RFC 9112 5.1), and the value
// must hold no control character but tab: a bare CR or LF, or a NUL, is
// one a server further on might split a message at, so it is never
// passed on (RFC 9110 5.5).
func splitField(line []byte) (colon, va, vb int32, ok bool) {
	colon = int32(bytes.IndexByte(line, ':'))
	if colon <= 0 || !IsToken(line[:colon]) {
		return 0, 0, 0, false
	}
	va, vb = colon+1, int32(len(line))
	for va < vb && (line[va] == ' ' || line[va] == '\t') {
		va++
	}
	for vb > va && (line[vb-1] == ' ' || line[vb-1] == '\t') {
		vb--
	}
	if !validText(line[va:vb]) {
		return 0, 0, 0, false
	}
	return colon, va, vb, true
}

// validText reports whether b holds only bytes a field value or a reason
// phrase may: tab, space, visible ASCII and obs-text (0x80-0xff), no other
// control character and no DEL.
//
// Values are checked eight bytes at a time: a word whose bytes are all
// visible ASCII, space or obs-text passes at once, and only a word that
// may hold something else (a tab, most often) is looked at byte by byte.
// That keeps the check at a fraction of the parse (BenchmarkFindAndParse).
func validText(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		del := x ^ 0x7f*ones
		// A byte below 0x20 (that is not obs-text), or a DEL, may be in x.
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 && !validBytes(b[:8]) {
			return false
		}
	}
	return validBytes(b)
}

func validBytes(b []byte) bool {
	for _, c := range b {
		if !textByte[c] {
			return false
		}
	}
	return true
}

var textByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '\t' || c >= ' ' && c != 0x7f
	}
	return t
}()

// classify notes framing and hop-by-hop fields (RFC 9110 7.6.1 and the
// list net/http/httputil removes).
func (h *Head) classify(f *Field, idx int) {
	n, v := h.Bytes(f.Name), h.Bytes(f.Value)
	switch {
	case EqualFold(n, "Content-Length"):
		h.Lengths++
		f.Hop = true // a proxy re-writes it from the parsed value
		h.Length = parseLength(v)
		if h.Length < 0 {
			h.lengthBad = true
		}
		if bytes.IndexByte(v, ',') >= 0 {
			h.lengthList = true
		}
	case EqualFold(n, "Transfer-Encoding"):
		h.Codings++
		f.Hop = true
		h.Chunked = h.Codings == 1 && EqualFold(v, "chunked")
	case EqualFold(n, "Connection"):
		f.Hop = true
		forTokens(v, func(t []byte) {
			switch {
			case EqualFold(t, "close"):
				h.Close = true
			case EqualFold(t, "keep-alive"):
				h.KeepAlive = true
			case EqualFold(t, "upgrade"):
				h.ConnUpgrade = true
			}
		})
	case EqualFold(n, "Upgrade"):
		f.Hop = true
		h.Upgrade = idx
	case EqualFold(n, "Keep-Alive"), EqualFold(n, "Proxy-Connection"), EqualFold(n, "TE"),
		EqualFold(n, "Trailer"), EqualFold(n, "Proxy-Authenticate"), EqualFold(n, "Proxy-Authorization"):
		f.Hop = true
	}
}

// hopNamedInConnection marks fields named in a Connection header as
// hop-by-hop: the sender asked that they go no further.
func (h *Head) hopNamedInConnection() {
	for i := range h.Fields {
		if !EqualFold(h.Bytes(h.Fields[i].Name), "Connection") {
			continue
		}
		forTokens(h.Bytes(h.Fields[i].Value), func(t []byte) {
			for j := range h.Fields {
				if bytes.EqualFold(h.Bytes(h.Fields[j].Name), t) {
					h.Fields[j].Hop = true
				}
			}
		})
	}
}

// Get returns the value of the first field named name (any case).
func (h *Head) Get(name string) ([]byte, bool) {
	for i := range h.Fields {
		if EqualFold(h.Bytes(h.Fields[i].Name), name) {
			return h.Bytes(h.Fields[i].Value), true
		}
	}
	return nil, false
}

// forTokens calls fn for each comma-separated token of v, trimmed.
func forTokens(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		t = bytes.Trim(t, " \t")
		if len(t) > 0 {
			fn(t)
		}
	}
}

// parseLength reads a Content-Length: decimal digits only (no sign, no
// list), at most 18 of them. -1 for anything else.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// EqualFold is ASCII case-insensitive equality of b and s, without
// allocating.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x != y && x|0x20 != y|0x20 {
			return false
		}
		if x != y && !('a' <= x|0x20 && x|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// IsToken reports whether b is an RFC 9110 token (a method or a header
// name).
func IsToken(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

var tokenChar = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()
