package router

import (
	"bufio"
	"errors"
	"net"
	"os"
	"time"
)

// idleGrace is how long an idle client connection keeps its read buffer.
// A busy keep-alive connection's next request usually arrives well within
// it, so the buffer is reused at no cost; past it the buffer goes back to
// the pool and the connection waits on a one-byte read, so thousands of
// quiet connections hold no read buffer (bench/weight-change.sh reports
// the RSS with 10,000 of them). The price, paid only after a long pause:
// one extra read for the first request.
var idleGrace = time.Second // a variable so tests can reach the bufferless wait quickly

// connSource is what a connection's bufio.Reader reads from: the
// connection, after the bytes in pre. Those are the byte that ended a
// bufferless idle wait, or what the event loop had read before it handed
// the connection over.
type connSource struct {
	c   net.Conn
	pre []byte
	one [1]byte // pre's storage for the idle wait's byte
}

func (s *connSource) Read(p []byte) (int, error) {
	if len(s.pre) > 0 {
		n := copy(p, s.pre)
		s.pre = s.pre[n:]
		return n, nil
	}
	return s.c.Read(p)
}

// waitIdle waits, for at most the idle timeout, until the client sends
// the first byte of its next request, and reports whether one came.
func (fc *conn) waitIdle(idle time.Duration) bool {
	now := time.Now()
	if idle <= 2*idleGrace {
		fc.rdl.atLeast(fc.c, now, idle)
		_, err := fc.br.Peek(1)
		return err == nil
	}
	fc.rdl.atLeast(fc.c, now, idleGrace)
	_, err := fc.br.Peek(1)
	if err == nil {
		return true
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || fc.br.Buffered() > 0 {
		return false
	}
	fc.br.Reset(nil)
	readerPool.Put(fc.br)
	fc.br = nil
	fc.rdl.set(fc.c, now.Add(idle))
	if _, err := fc.c.Read(fc.src.one[:]); err != nil {
		return false
	}
	fc.src.pre = fc.src.one[:]
	fc.br = readerPool.Get().(*bufio.Reader)
	fc.br.Reset(&fc.src)
	return true
}
