package router

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"sync"
)

// Request-smuggling refusal.
//
// What Go's net/http server already does with ambiguous framing (checked by
// TestGoServerFramingBaseline): it refuses Content-Length headers with
// different values (400) and transfer codings other than a lone "chunked"
// (501). It accepts, silently repairing, two shapes a front proxy should
// refuse: Content-Length together with Transfer-Encoding: chunked (Go drops
// the Content-Length, leaving no trace on the *http.Request) and repeated
// identical Content-Length headers. It also accepts obs-fold continuation
// lines.
//
// Because the evidence is gone by the time a handler runs, the check sits
// on the connection: guardConn holds back each request's header block until
// it is complete, inspects it, and only then lets Go read it. It follows
// the body framing (Content-Length or chunked) to find where the next
// request begins, so keep-alive and pipelined requests are all checked. On a
// bad shape it feeds Go a one-line request that Go itself answers with
// "400 Bad Request" and Connection: close, then reports EOF. Letting Go
// write the answer keeps responses in order behind any pipelined request
// still being served.
//
// After a request asking to switch protocols (Upgrade, CONNECT) the bytes
// that follow may not be HTTP at all, so the guard steps aside for the rest
// of that connection; Go's own checks still apply to any later request.

// guardListener wraps accepted connections in guardConn.
type guardListener struct {
	net.Listener
	maxHeader int // header blocks larger than this are left to Go (431)
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(c, l.maxHeader), nil
}

func newGuardConn(c net.Conn, maxHeader int) *guardConn {
	return &guardConn{Conn: c, limit: maxHeader + 4096}
}

type framing uint8

const (
	inHeader framing = iota
	inFixedBody
	inChunked
	passThrough
)

// Chunked-body sub-states.
const (
	chSize     = iota // reading the hex size line
	chExt             // in a chunk extension, until end of line
	chData            // inside chunk data
	chDataEnd         // the CRLF after chunk data
	chTrailer         // trailer lines after the last chunk
	chTrailerL        // inside a non-empty trailer line
)

type guardConn struct {
	net.Conn
	limit      int
	state      framing
	hdr        []byte // unverified header bytes, held back
	out        []byte // verified bytes Go may read
	outPos     int
	refused    bool
	pendingErr error
	buf        [4096]byte

	left     int64 // fixed body bytes or chunk bytes left
	ch       int   // chunked sub-state
	chDigits int
	upgrade  bool // the current request may switch protocols

	tls *tls.ConnectionState // set when the guard sits on a TLS connection
}

// Read hands Go only bytes whose request header block has been checked.
// Errors are passed on once, not remembered: Go's server aborts its
// background read with a past deadline and expects the next Read to work.
//
// It reads into p (Go's own buffer) and keeps no buffer of its own while
// blocked, so an idle keep-alive connection costs only this struct.
func (c *guardConn) Read(p []byte) (int, error) {
	for {
		if c.outPos < len(c.out) {
			n := copy(p, c.out[c.outPos:])
			c.outPos += n
			return n, nil
		}
		if c.out != nil {
			putBuf(c.out)
			c.out, c.outPos = nil, 0
		}
		if err := c.pendingErr; err != nil {
			c.pendingErr = nil
			return 0, err
		}
		if c.state == passThrough && !c.refused {
			return c.Conn.Read(p)
		}
		n, err := c.Conn.Read(p)
		if c.refused {
			// Go is answering the bogus request line and will close the
			// connection; until then whatever the client sends is dropped.
			// Returning EOF instead would cancel a pipelined request still
			// being served.
			if err != nil {
				return 0, err
			}
			continue
		}
		c.out = getBuf()
		c.feed(p[:n])
		if err != nil {
			if err == io.EOF && c.state == inHeader && len(c.hdr) > 0 {
				// The client is done: let Go see the incomplete header and
				// reject it. Not on other errors: a timeout is Go aborting
				// its background read, and the header may still complete.
				c.out = append(c.out, c.hdr...)
				c.hdr = c.hdr[:0]
			}
			c.pendingErr = err
		}
	}
}

// bufPool recycles the verified-bytes buffers between reads.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= 64<<10 { // don't keep a buffer grown by a huge header
		bufPool.Put(&b)
	}
}

// feed advances the framing over b, moving checked bytes to c.out.
func (c *guardConn) feed(b []byte) {
	for len(b) > 0 && !c.refused {
		switch c.state {
		case passThrough:
			c.out = append(c.out, b...)
			return
		case inFixedBody:
			k := int64(len(b))
			if k > c.left {
				k = c.left
			}
			c.out = append(c.out, b[:k]...)
			b = b[k:]
			if c.left -= k; c.left == 0 {
				c.endOfMessage()
			}
		case inChunked:
			b = c.feedChunked(b)
		case inHeader:
			if len(c.hdr) == 0 { // blank lines between requests are allowed
				i := 0
				for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
					i++
				}
				c.out = append(c.out, b[:i]...)
				if b = b[i:]; len(b) == 0 {
					return
				}
			}
			start := len(c.hdr) - 3
			if start < 0 {
				start = 0
			}
			if c.hdr == nil {
				c.hdr = getBuf()
			}
			c.hdr = append(c.hdr, b...)
			b = nil
			end := headerEnd(c.hdr, start)
			if end < 0 {
				if len(c.hdr) > c.limit { // Go answers 431 and closes
					c.out = append(c.out, c.hdr...)
					c.hdr = c.hdr[:0]
					c.state = passThrough
				}
				return
			}
			block, rest := c.hdr[:end], c.hdr[end:]
			if reason := c.inspect(block); reason != "" {
				// Bytes already verified (an earlier pipelined request) go first.
				c.out = append(c.out, "kanaria:refused:"+reason+"\r\n\r\n"...)
				c.refused = true
				return
			}
			c.out = append(c.out, block...)
			if len(rest) > 0 {
				b = append([]byte(nil), rest...) // rest aliases hdr, which goes back to the pool
			}
			putBuf(c.hdr) // idle connections hold no header buffer
			c.hdr = nil
			if c.state == inFixedBody && c.left == 0 {
				c.endOfMessage()
			}
		}
	}
}

func (c *guardConn) endOfMessage() {
	if c.upgrade {
		c.state = passThrough
		return
	}
	c.state = inHeader
}

// headerEnd returns the index just past the blank line ending a header
// block (CRLF or bare LF line endings), or -1.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

var (
	hContentLength    = []byte("content-length")
	hTransferEncoding = []byte("transfer-encoding")
	hUpgrade          = []byte("upgrade")
)

// inspect checks one header block and sets the body framing. It returns a
// reason (no spaces: it becomes the bogus request line) for refusal, or "".
func (c *guardConn) inspect(block []byte) string {
	lines := bytes.Split(bytes.TrimRight(block, "\r\n"), []byte("\n"))
	method, _, _ := bytes.Cut(lines[0], []byte(" "))
	c.upgrade = string(method) == "CONNECT"
	var cl, te [][]byte
	for _, ln := range lines[1:] {
		ln = bytes.TrimSuffix(ln, []byte("\r"))
		if len(ln) > 0 && (ln[0] == ' ' || ln[0] == '\t') {
			return "obs-fold-header-continuation"
		}
		name, val, ok := bytes.Cut(ln, []byte(":"))
		if !ok {
			continue // Go refuses malformed lines itself
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, hContentLength):
			cl = append(cl, val)
		case bytes.EqualFold(name, hTransferEncoding):
			te = append(te, val)
		case bytes.EqualFold(name, hUpgrade):
			c.upgrade = true
		}
	}
	switch {
	case len(cl) > 0 && len(te) > 0:
		return "content-length-with-transfer-encoding"
	case len(cl) > 1 || len(cl) == 1 && bytes.IndexByte(cl[0], ',') >= 0:
		return "duplicate-content-length"
	case len(te) > 1 || len(te) == 1 && !bytes.EqualFold(te[0], []byte("chunked")):
		return "unsupported-transfer-encoding"
	case len(te) == 1:
		c.state, c.ch, c.chDigits, c.left = inChunked, chSize, 0, 0
	case len(cl) == 1:
		n, err := strconv.ParseInt(string(cl[0]), 10, 64)
		if err != nil || n < 0 {
			return "invalid-content-length"
		}
		c.state, c.left = inFixedBody, n
	default:
		c.state, c.left = inFixedBody, 0
	}
	return ""
}

// feedChunked follows chunked framing just far enough to find the message
// end. Anything malformed makes the guard step aside: Go rejects a bad
// chunked body itself and closes the connection.
func (c *guardConn) feedChunked(b []byte) []byte {
	for len(b) > 0 {
		switch c.ch {
		case chData:
			k := int64(len(b))
			if k > c.left {
				k = c.left
			}
			c.out = append(c.out, b[:k]...)
			b = b[k:]
			if c.left -= k; c.left == 0 {
				c.ch = chDataEnd
			}
			continue
		}
		x := b[0]
		c.out = append(c.out, x)
		b = b[1:]
		switch c.ch {
		case chSize:
			switch {
			case hexVal(x) >= 0 && c.chDigits < 15:
				c.left = c.left<<4 | int64(hexVal(x))
				c.chDigits++
			case x == ';' || x == ' ' || x == '\t':
				c.ch = chExt
			case x == '\r':
			case x == '\n' && c.chDigits > 0:
				c.afterSizeLine()
			default:
				c.state = passThrough
				c.out = append(c.out, b...)
				return nil
			}
		case chExt:
			if x == '\n' {
				c.afterSizeLine()
			}
		case chDataEnd:
			if x == '\n' {
				c.ch, c.left, c.chDigits = chSize, 0, 0
			}
		case chTrailer:
			switch x {
			case '\r':
			case '\n':
				c.endOfMessage()
				return b
			default:
				c.ch = chTrailerL
			}
		case chTrailerL:
			if x == '\n' {
				c.ch = chTrailer
			}
		}
	}
	return b
}

func (c *guardConn) afterSizeLine() {
	if c.chDigits == 0 {
		c.state = passThrough
		return
	}
	if c.left == 0 {
		c.ch = chTrailer
		return
	}
	c.ch = chData
}

func hexVal(x byte) int {
	switch {
	case '0' <= x && x <= '9':
		return int(x - '0')
	case 'a' <= x && x <= 'f':
		return int(x-'a') + 10
	case 'A' <= x && x <= 'F':
		return int(x-'A') + 10
	}
	return -1
}
