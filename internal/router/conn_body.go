package router

import (
	"bufio"
	"errors"
	"io"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// Body copying for the goroutine path. Bytes go from one bufio.Reader to
// one bufio.Writer through the writer's own free space (no third buffer),
// and the writer is flushed only before a read that would block: a small
// response leaves in one write, and a trickling stream reaches the client
// as soon as each piece arrives (never buffered whole).

var errBadChunk = errors.New("malformed chunked body")

// fill reads from src into dst's free space, flushing dst first when src
// has nothing buffered (the next read may wait). It returns how many bytes
// moved, at most max. A mirrored answer's bytes are also kept in tee (nil
// when the request is not mirrored).
func fill(dst *bufio.Writer, src *bufio.Reader, max int64, tee *capture) (int, error) {
	if src.Buffered() == 0 || dst.Available() == 0 {
		if err := dst.Flush(); err != nil {
			return 0, errDstWrite{err}
		}
	}
	buf := dst.AvailableBuffer()[:dst.Available()]
	if int64(len(buf)) > max {
		buf = buf[:max]
	}
	n, err := src.Read(buf)
	if n > 0 {
		tee.body(buf[:n])
		if _, werr := dst.Write(buf[:n]); werr != nil {
			return n, errDstWrite{werr}
		}
	}
	return n, err
}

// errDstWrite marks a failure writing to dst, to tell it apart from a
// failure reading src (which side broke decides who is blamed).
type errDstWrite struct{ err error }

func (e errDstWrite) Error() string { return "write: " + e.err.Error() }

func (e errDstWrite) Unwrap() error { return e.err }

// copyFixed moves exactly n bytes (kept in tee too, see fill).
func copyFixed(dst *bufio.Writer, src *bufio.Reader, n int64, tee *capture) error {
	for n > 0 {
		k, err := fill(dst, src, n, tee)
		n -= int64(k)
		if err != nil {
			if err == io.EOF && n > 0 {
				return io.ErrUnexpectedEOF
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

// copyUntilEOF moves everything until src ends (a response framed by the
// upstream closing its connection).
func copyUntilEOF(dst *bufio.Writer, src *bufio.Reader, tee *capture) error {
	for {
		_, err := fill(dst, src, 1<<62, tee)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyChunked follows a chunked body from src (h1.Chunked) and writes it
// to dst re-encoded as chunked (sizes normalised, extensions dropped,
// trailers kept, if they are well-formed fields) or, for an HTTP/1.0
// client, as the bare data. The data (not the framing) is kept in tee.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, rechunk bool, tee *capture) error {
	var d h1.Chunked
	for !d.Done() {
		if n := d.Left(); n > 0 {
			if err := copyFixed(dst, src, n, tee); err != nil {
				return err
			}
			d.Skip(n)
			continue
		}
		l, err := nextChunkLine(&d, src, dst)
		if err != nil {
			return err
		}
		if rechunk {
			if dst.Available() < len(l.Text)+24 {
				dst.Flush()
			}
			dst.Write(l.Append(dst.AvailableBuffer()))
		}
	}
	return nil
}

// nextChunkLine reads the next line of a chunked body from src, flushing
// dst first if the read may block.
func nextChunkLine(d *h1.Chunked, src *bufio.Reader, dst *bufio.Writer) (h1.Line, error) {
	for {
		p, _ := src.Peek(src.Buffered())
		n, l := d.Next(p)
		switch {
		case l.Kind == h1.Malformed, l.Kind == h1.TrailerField && !l.ValidField():
			return l, errBadChunk
		case l.Kind == h1.Incomplete:
			if err := dst.Flush(); err != nil {
				return l, errDstWrite{err}
			}
			if _, err := src.Peek(len(p) + 1); err != nil {
				if err == io.EOF || err == bufio.ErrBufferFull {
					return l, errBadChunk
				}
				return l, err
			}
			continue
		}
		src.Discard(n) // l.Text stays valid: Discard does not move the buffer
		return l, nil
	}
}
