package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// The fast front end (fast_*.go) parses HTTP/1.1 itself rather than using
// net/http: one header block is copied once into a reused buffer and
// described by offsets, nothing is put in maps, and the same head type
// serves for requests from clients and responses from upstreams. Profiles
// of the net/http path showed header maps, per-request contexts and
// goroutines, and ReverseProxy's header cloning dominating the CPU per
// request; none of it is needed to forward bytes.

// span is a byte range [a, b) in a head's buffer.
type span struct{ a, b int32 }

// hfield is one header line: name and value (trimmed) as spans.
type hfield struct {
	name, val span
	hop       bool // hop-by-hop: not forwarded
}

// head is one parsed header block (request or response).
type head struct {
	buf    []byte // the block's bytes, CRLF kept; reused between messages
	first  span   // request line or status line, without the line end
	fields []hfield

	nCL, nTE  int   // Content-Length / Transfer-Encoding header count
	cl        int64 // the Content-Length value; -1 when absent or unparsable
	clBad     bool  // a list ("3, 3") or not a number
	teChunked bool  // the only Transfer-Encoding is exactly "chunked"
	obsFold   bool  // a continuation line (obs-fold) was seen

	connClose, connKeepAlive, connUpgrade bool
	upgrade                               int // index of the Upgrade field, -1 if none
}

var (
	errHeadTooLarge = errors.New("header block too large")
	errMalformed    = errors.New("malformed header block")
)

func (h *head) str(s span) []byte { return h.buf[s.a:s.b] }

// readHead reads one header block from br into h. Blank lines before a
// request line are skipped (RFC 9112 allows one stray CRLF). io.EOF means
// the peer closed cleanly between messages.
func readHead(br *bufio.Reader, h *head, limit int) error {
	h.buf = h.buf[:0]
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(h.buf)+len(line) > limit {
			return errHeadTooLarge
		}
		h.buf = append(h.buf, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(h.buf) > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		l := h.buf[lineStart:]
		if len(l) == 1 || len(l) == 2 && l[0] == '\r' { // blank line
			if lineStart == 0 { // stray line before the start line
				h.buf = h.buf[:0]
				continue
			}
			return h.parse()
		}
		lineStart = len(h.buf)
	}
}

// parse splits h.buf into the start line and fields and records what
// framing and connection handling need. Policy (what to refuse) is left to
// the caller: requests and responses are judged differently.
func (h *head) parse() error {
	h.fields = h.fields[:0]
	h.nCL, h.nTE, h.cl, h.clBad, h.teChunked, h.obsFold = 0, 0, -1, false, false, false
	h.connClose, h.connKeepAlive, h.connUpgrade, h.upgrade = false, false, false, -1
	pos := int32(0)
	first := true
	for int(pos) < len(h.buf) {
		end := int32(bytes.IndexByte(h.buf[pos:], '\n')) + pos
		le := end
		if le > pos && h.buf[le-1] == '\r' {
			le--
		}
		if first {
			h.first, first = span{pos, le}, false
			pos = end + 1
			continue
		}
		if le == pos { // the blank line ending the block
			break
		}
		if c := h.buf[pos]; c == ' ' || c == '\t' {
			h.obsFold = true
			pos = end + 1
			continue
		}
		colon := int32(bytes.IndexByte(h.buf[pos:le], ':'))
		if colon <= 0 {
			return errMalformed
		}
		name := span{pos, pos + colon}
		if !isTokenBytes(h.str(name)) { // "Name :" and other spacing tricks
			return errMalformed
		}
		va, vb := pos+colon+1, le
		for va < vb && (h.buf[va] == ' ' || h.buf[va] == '\t') {
			va++
		}
		for vb > va && (h.buf[vb-1] == ' ' || h.buf[vb-1] == '\t') {
			vb--
		}
		f := hfield{name: name, val: span{va, vb}}
		h.classify(&f, len(h.fields))
		h.fields = append(h.fields, f)
		pos = end + 1
	}
	h.hopNamedInConnection()
	return nil
}

// classify notes framing and hop-by-hop fields (RFC 9110 7.6.1 and the
// list net/http/httputil removes).
func (h *head) classify(f *hfield, idx int) {
	n, v := h.str(f.name), h.str(f.val)
	switch {
	case eqFold(n, "Content-Length"):
		h.nCL++
		f.hop = true // re-written from the parsed value
		h.cl = parseLength(v)
		if h.cl < 0 {
			h.clBad = true
		}
	case eqFold(n, "Transfer-Encoding"):
		h.nTE++
		f.hop = true
		h.teChunked = h.nTE == 1 && eqFold(v, "chunked")
	case eqFold(n, "Connection"):
		f.hop = true
		forTokens(v, func(t []byte) {
			switch {
			case eqFold(t, "close"):
				h.connClose = true
			case eqFold(t, "keep-alive"):
				h.connKeepAlive = true
			case eqFold(t, "upgrade"):
				h.connUpgrade = true
			}
		})
	case eqFold(n, "Upgrade"):
		f.hop = true
		h.upgrade = idx
	case eqFold(n, "Keep-Alive"), eqFold(n, "Proxy-Connection"), eqFold(n, "TE"),
		eqFold(n, "Trailer"), eqFold(n, "Proxy-Authenticate"), eqFold(n, "Proxy-Authorization"):
		f.hop = true
	}
}

// hopNamedInConnection marks fields named in a Connection header as
// hop-by-hop: the sender asked that they go no further.
func (h *head) hopNamedInConnection() {
	for i := range h.fields {
		if !eqFold(h.str(h.fields[i].name), "Connection") {
			continue
		}
		forTokens(h.str(h.fields[i].val), func(t []byte) {
			for j := range h.fields {
				if bytes.EqualFold(h.str(h.fields[j].name), t) {
					h.fields[j].hop = true
				}
			}
		})
	}
}

// get returns the value of the first field named name (canonical or not).
func (h *head) get(name string) ([]byte, bool) {
	for i := range h.fields {
		if eqFold(h.str(h.fields[i].name), name) {
			return h.str(h.fields[i].val), true
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

// eqFold is ASCII case-insensitive equality of b and s without allocating.
func eqFold(b []byte, s string) bool {
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

// isTokenBytes reports whether b is an RFC 9110 token (a header name).
func isTokenBytes(b []byte) bool {
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
