package router

import (
	"bufio"
	"errors"
	"io"
)

// Body copying for the fast front end. Bytes go from one bufio.Reader to
// one bufio.Writer through the writer's own free space (no third buffer),
// and the writer is flushed only before a read that would block: a small
// response leaves in one write, and a trickling stream reaches the client
// as soon as each piece arrives (never buffered whole).

var errBadChunk = errors.New("malformed chunked body")

// fill reads from src into dst's free space, flushing dst first when src
// has nothing buffered (the next read may wait). It returns how many bytes
// moved, at most max.
func fill(dst *bufio.Writer, src *bufio.Reader, max int64) (int, error) {
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

// copyFixed moves exactly n bytes.
func copyFixed(dst *bufio.Writer, src *bufio.Reader, n int64) error {
	for n > 0 {
		k, err := fill(dst, src, n)
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
func copyUntilEOF(dst *bufio.Writer, src *bufio.Reader) error {
	for {
		_, err := fill(dst, src, 1<<62)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyChunked validates a chunked body from src and writes it to dst,
// re-encoded as chunked (sizes normalised, extensions dropped, trailers
// kept) or, for an HTTP/1.0 client, as the bare data.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, rechunk bool) error {
	for {
		line, err := readLine(src, dst)
		if err != nil {
			return err
		}
		size, ok := chunkSize(line)
		if !ok {
			return errBadChunk
		}
		if size == 0 {
			break
		}
		if rechunk {
			writeInt(dst, size, 16)
			dst.WriteString("\r\n")
		}
		if err := copyFixed(dst, src, size); err != nil {
			return err
		}
		if crlf, err := readLine(src, dst); err != nil {
			return err
		} else if len(crlf) != 0 {
			return errBadChunk
		}
		if rechunk {
			dst.WriteString("\r\n")
		}
	}
	if rechunk {
		dst.WriteString("0\r\n")
	}
	for { // trailers, then the blank line
		line, err := readLine(src, dst)
		if err != nil {
			return err
		}
		if rechunk {
			dst.Write(line)
			dst.WriteString("\r\n")
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// readLine reads one line (at most 4 KiB) without its CRLF, flushing dst
// first if the read may block.
func readLine(src *bufio.Reader, dst *bufio.Writer) ([]byte, error) {
	if src.Buffered() == 0 {
		if err := dst.Flush(); err != nil {
			return nil, errDstWrite{err}
		}
	}
	line, err := src.ReadSlice('\n')
	if err != nil {
		if err == io.EOF || err == bufio.ErrBufferFull {
			return nil, errBadChunk
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// chunkSize parses "1a3f" or "1a3f;ext=x": hex, at most 15 digits.
func chunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		v := hexVal(line[i])
		if v < 0 {
			break
		}
		if i >= 15 {
			return 0, false
		}
		n = n<<4 | int64(v)
	}
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return n, true
}
