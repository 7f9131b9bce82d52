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

// connSource is what a client connection's bufio.Reader reads from: the
// connection, after the byte that ended a bufferless idle wait.
type connSource struct {
	c   net.Conn
	pre [1]byte
	has bool
}

func (s *connSource) Read(p []byte) (int, error) {
	if s.has && len(p) > 0 {
		p[0], s.has = s.pre[0], false
		return 1, nil
	}
	return s.c.Read(p)
}

// waitIdle waits, for at most the idle timeout, until the client sends
// the first byte of its next request, and reports whether one came.
func (fc *fastConn) waitIdle(idle time.Duration) bool {
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
	if _, err := fc.c.Read(fc.src.pre[:]); err != nil {
		return false
	}
	fc.src.has = true
	fc.br = readerPool.Get().(*bufio.Reader)
	fc.br.Reset(&fc.src)
	return true
}
