package router

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// Request-smuggling refusal on the net/http front end.
//
// What Go's net/http server already does with ambiguous framing (checked by
// TestGoServerFramingBaseline): it refuses Content-Length headers with
// different values (400) and transfer codings other than a lone "chunked"
// (501). It accepts, silently repairing, shapes a front proxy should
// refuse: Content-Length together with Transfer-Encoding: chunked (Go drops
// the Content-Length, leaving no trace on the *http.Request), repeated
// identical Content-Length headers, and Transfer-Encoding in an HTTP/1.0
// request (Go ignores it and reads the chunks as the next request). It also
// accepts obs-fold continuation lines.
//
// Because the evidence is gone by the time a handler runs, the check sits
// on the connection: guardConn holds back each request's header block until
// it is complete, judges it with the framing policy every front end uses
// (h1.Head.RequestBody), and only then lets Go read it. It follows the body
// (Content-Length, or chunked with h1.Chunked) to find where the next
// request begins, so keep-alive and pipelined requests are all checked; the
// fuzz targets of internal/h1 check that it finds the end where net/http
// does. On a bad shape it feeds Go a one-line request that Go itself
// answers with "400 Bad Request" and Connection: close, then reports EOF.
// Letting Go write the answer keeps responses in order behind any pipelined
// request still being served. Blank lines before a request line, which
// net/http would refuse, are dropped: the guard's only change to the bytes. Where the guard cannot follow a body (a
// chunk line h1 calls malformed) it steps aside: net/http refuses such a
// body too and closes the connection.
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

type guardConn struct {
	net.Conn
	limit      int
	state      framing
	held       []byte // unchecked bytes held back: a header block or a chunk line, incomplete
	scanned    int    // bytes of held already searched for the end of a header block
	out        []byte // checked bytes Go may read
	outPos     int
	refused    bool
	pendingErr error

	head    h1.Head    // the header block being checked
	left    int64      // fixed body bytes left
	chunks  h1.Chunked // where a chunked body stands
	upgrade bool       // the current request may switch protocols

	tls *tls.ConnectionState // set when the guard sits on a TLS connection
}

// Read hands Go only bytes whose request header block has been checked.
// Errors are passed on once, not remembered: Go's server aborts its
// background read with a past deadline and expects the next Read to work.
//
// It reads into p (Go's own buffer) and keeps no buffer of its own while
// blocked between requests, so an idle keep-alive connection costs only
// this struct.
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
			if err == io.EOF && len(c.held) > 0 {
				// The client is done: let Go see the incomplete header block
				// or chunk line and reject it. Not on other errors: a timeout
				// is Go aborting its background read, and the bytes may
				// still complete.
				c.out = append(c.out, c.held...)
				c.release()
			}
			c.pendingErr = err
		}
	}
}

// bufPool recycles the checked-bytes and held-bytes buffers between reads.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= 64<<10 { // don't keep a buffer grown by a huge header
		bufPool.Put(&b)
	}
}

// feed advances the framing over b (bytes just read), moving checked
// bytes to c.out and holding back a header block or chunk line that is
// not yet whole.
func (c *guardConn) feed(b []byte) {
	if len(c.held) > 0 {
		c.held = append(c.held, b...)
		b = c.held // consumed from the front; what is left moves back to the front
	}
	rest := c.advance(b)
	if len(rest) == 0 || c.refused {
		c.release()
		return
	}
	if c.held == nil {
		c.held = getBuf()
	}
	c.held = append(c.held[:0], rest...) // rest may be a tail of held: copy moves it to the front
}

// release gives the held bytes' buffer back: idle connections hold none.
func (c *guardConn) release() {
	if c.held != nil {
		putBuf(c.held)
		c.held, c.scanned = nil, 0
	}
}

// advance follows the framing over b as far as it can and returns the
// tail it cannot judge yet.
func (c *guardConn) advance(b []byte) []byte {
	for len(b) > 0 && !c.refused {
		switch c.state {
		case passThrough:
			c.out = append(c.out, b...)
			return nil
		case inFixedBody:
			k := min(int64(len(b)), c.left)
			c.out = append(c.out, b[:k]...)
			b = b[k:]
			if c.left -= k; c.left == 0 {
				c.endOfMessage()
			}
		case inChunked:
			if k := min(int64(len(b)), c.chunks.Left()); k > 0 {
				c.out = append(c.out, b[:k]...)
				b = b[k:]
				c.chunks.Skip(k)
				continue
			}
			n, line := c.chunks.Next(b)
			switch line.Kind {
			case h1.Incomplete:
				return b
			case h1.Malformed:
				// Go rejects a chunked body it cannot follow and closes the
				// connection (h1.MaxChunkLine is its limit too): step aside.
				c.state = passThrough
				continue
			}
			c.out = append(c.out, b[:n]...)
			b = b[n:]
			if c.chunks.Done() {
				c.endOfMessage()
			}
		case inHeader:
			// Blank lines before a request line are allowed (RFC 9112
			// 2.2) and the other front ends skip them, but net/http
			// answers 400 to one: they are dropped here, never passed on.
			start, end := h1.FindHead(b, c.scanned)
			if end == 0 {
				b = b[start:]
				if len(b) > c.limit { // Go answers 431 and closes
					c.state = passThrough
					continue
				}
				c.scanned = len(b)
				return b
			}
			c.scanned = 0
			block := b[start:end]
			if reason := c.inspect(block); reason != "" {
				// Bytes already checked (an earlier pipelined request) go first.
				c.out = append(c.out, "kanaria:refused:"+reason+"\r\n\r\n"...)
				c.refused = true
				return nil
			}
			c.out = append(c.out, block...)
			b = b[end:]
			if c.state == inFixedBody && c.left == 0 {
				c.endOfMessage()
			}
		}
	}
	return nil
}

func (c *guardConn) endOfMessage() {
	if c.upgrade {
		c.state = passThrough
		return
	}
	c.state = inHeader
}

// inspect applies the framing policy (h1.Head.RequestBody, the one the
// other front ends apply) to one header block and sets the body framing.
// It returns the reason for a refusal, or "".
func (c *guardConn) inspect(block []byte) string {
	h := &c.head
	h.Buf = block
	defer func() { h.Buf = nil }() // block is a view of a pooled buffer
	// A malformed line is Go's to refuse; the framing fields of the rest
	// are judged all the same.
	_ = h.Parse()
	body, reason := h.RequestBody()
	if reason != "" {
		return reason
	}
	method, _, _ := bytes.Cut(h.Bytes(h.First), []byte(" "))
	c.upgrade = string(method) == "CONNECT" || h.Upgrade >= 0
	switch body {
	case h1.BodyChunked:
		c.state, c.chunks = inChunked, h1.Chunked{}
	case h1.BodyLength:
		c.state, c.left = inFixedBody, h.Length
	default:
		c.state, c.left = inFixedBody, 0
	}
	return ""
}
