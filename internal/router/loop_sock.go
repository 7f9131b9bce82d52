//go:build linux

package router

import (
	"bufio"
	"time"

	"golang.org/x/sys/unix"
)

// buffer gives s a read buffer if it has none.
func (l *evLoop) buffer(s *evSock) {
	if s.in != nil {
		return
	}
	if n := len(l.free); n > 0 {
		s.in, l.free = l.free[n-1], l.free[:n-1]
		return
	}
	s.in = make([]byte, evBufSize)
}

// putBuffer takes s's read buffer back; idle sockets hold none, so ten
// thousand quiet keep-alive connections cost no buffers.
func (l *evLoop) putBuffer(s *evSock) {
	if s.in != nil && len(l.free) < 1024 {
		l.free = append(l.free, s.in)
	}
	s.in, s.r, s.w = nil, 0, 0
}

// appendSink is the writer under the loop's bufio.Writer: it appends to
// the slice dst points at (a socket's output).
type appendSink struct{ dst *[]byte }

func (a *appendSink) Write(p []byte) (int, error) {
	*a.dst = append(*a.dst, p...)
	return len(p), nil
}

// writerFor aims the loop's buffered writer at s's output; the caller
// formats into it and flushes it (into s.out, not yet to the socket).
func (l *evLoop) writerFor(s *evSock) *bufio.Writer {
	l.sink.dst = &s.out
	return l.bw
}

// evSock is what client and upstream sockets share: buffers, readiness
// flags and a deadline.
type evSock struct {
	fd       int
	in       []byte // read buffer; nil while idle with nothing buffered
	r, w     int    // in[r:w] is read but not yet used
	out      []byte // bytes to write: out[op:] are still pending
	op       int
	readable bool // epoll reported data (or EOF) not yet read up to EAGAIN
	eof      bool // the peer closed or the socket failed (err)
	err      error
	deadline time.Time // zero: none
}

// fill reads once into the free space of s.in.
func (l *evLoop) fill(s *evSock) {
	l.buffer(s)
	if s.r == s.w {
		s.r, s.w = 0, 0
	} else if s.w == len(s.in) && s.r > 0 {
		s.w = copy(s.in, s.in[s.r:s.w])
		s.r = 0
	}
	if s.w == len(s.in) {
		return // full: the caller decides
	}
	for {
		n, errno := rawRead(s.fd, s.in[s.w:])
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			s.readable = false
		case errno != 0:
			s.eof, s.err, s.readable = true, errno, false
		case n == 0:
			s.eof, s.readable = true, false
		default:
			if s.w+n < len(s.in) {
				s.readable = false // a short read emptied the socket
			}
			s.w += n
		}
		return
	}
}

// flush writes as much pending output as the socket takes and reports
// whether none is left. A write error sets eof and err.
func (l *evLoop) flush(s *evSock) bool {
	for s.op < len(s.out) {
		n, errno := rawWrite(s.fd, s.out[s.op:])
		switch errno {
		case 0:
			s.op += n
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.eof, s.err = true, errno
		s.out, s.op = s.out[:0], 0
		return false
	}
	s.out, s.op = s.out[:0], 0
	if cap(s.out) > 4*evBufSize {
		s.out = nil // a large answer's backlog is not kept for small ones
	}
	return true
}

func (s *evSock) pending() int { return len(s.out) - s.op }
