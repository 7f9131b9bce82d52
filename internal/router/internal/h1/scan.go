package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrTooLarge is a header block longer than the limit ReadHead was given.
var ErrTooLarge = errors.New("header block too large")

// FindHead locates the header block at the start of b. The blank lines a
// client may send before a request line (RFC 9112 2.2: "\n" or "\r\n",
// any number of them) are b[:start]; the block itself, through the blank
// line that ends it, is b[start:end]. end is 0 while b holds no whole
// block. Lines may end in CRLF or a bare LF, as net/http allows.
//
// b[:from] was searched before without finding the end (b has grown
// since), so the search resumes there; 0 searches all of b.
func FindHead(b []byte, from int) (start, end int) {
	start = blankLines(b)
	// The block ends at the first "\n\n" or "\n\r\n" after its start: its
	// first line is not blank, or blankLines would have taken it.
	for i := max(from, start+1); i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if b[i-1] == '\n' || b[i-1] == '\r' && i-2 >= start && b[i-2] == '\n' {
			return start, i + 1
		}
	}
	return start, 0
}

// blankLines is the length of the blank lines at the start of b. A lone
// '\r' at the very end is not counted: it may yet be half of one.
func blankLines(b []byte) int {
	n := 0
	for n < len(b) {
		switch {
		case b[n] == '\n':
			n++
		case b[n] == '\r' && n+1 < len(b) && b[n+1] == '\n':
			n += 2
		default:
			return n
		}
	}
	return n
}

// ReadHead reads one header block from br into h.Buf and parses it
// (Head.Parse). Stray blank lines before it are dropped. The block, its
// blank line included, may be at most limit bytes (else ErrTooLarge).
// io.EOF means br ended cleanly before a block began; io.ErrUnexpectedEOF,
// in the middle of one. Bytes after the block stay in br.
func ReadHead(br *bufio.Reader, h *Head, limit int) error {
	h.Buf = h.Buf[:0]
	need := 1 // bytes to have buffered before looking
	for {
		b, err := br.Peek(max(br.Buffered(), need))
		need = 1
		if len(h.Buf) == 0 { // the block has not begun
			skip := blankLines(b)
			br.Discard(skip)
			b = b[skip:]
			if len(b) == 0 || len(b) == 1 && b[0] == '\r' && err == nil {
				if err != nil {
					return err // io.EOF: closed between messages
				}
				need = len(b) + 1 // a lone '\r': wait for what follows it
				continue
			}
			// The common case: the whole block is buffered. Copy just it,
			// not the body or the pipelined request after it.
			if _, end := FindHead(b, 0); end > 0 {
				if end > limit {
					return ErrTooLarge
				}
				h.Buf = append(h.Buf, b[:end]...)
				br.Discard(end)
				return h.Parse()
			}
		}
		from := len(h.Buf)
		h.Buf = append(h.Buf, b...)
		if _, end := FindHead(h.Buf, from); end > 0 {
			if end > limit {
				return ErrTooLarge
			}
			br.Discard(end - from)
			h.Buf = h.Buf[:end]
			return h.Parse()
		}
		if len(h.Buf) >= limit {
			return ErrTooLarge
		}
		br.Discard(len(b))
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}
