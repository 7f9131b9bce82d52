package h1

import (
	"bytes"
	"math"
	"strconv"
)

// MaxChunkLine bounds a line of a chunked body (a size line with its
// extensions, or a trailer field), its line end included. net/http's
// chunked reader, reading through a 4 KiB buffer, gives up at the same
// length, so a body this package cannot follow is one net/http refuses.
const MaxChunkLine = 4096

// Chunked follows a chunked body (RFC 9112 7.1) for a caller that holds
// its bytes, whatever their source: chunk data is counted off with Left
// and Skip, and each line in between goes to Next, which says what it
// was. The zero value is at the start of a body. One Chunked serves the
// event loop (bytes in its socket buffer), the goroutine path (bytes in a
// bufio.Reader) and the net/http guard (bytes as Read returns them).
type Chunked struct {
	state chunkState
	left  int64 // data bytes of the current chunk still to come
}

type chunkState uint8

const (
	atSize    chunkState = iota // a size line comes next
	atDataEnd                   // chunk data (Left), then the line end after it
	atTrailer                   // trailer fields, then the blank line
	atDone                      // the body has ended
)

// LineKind is what a line of a chunked body was.
type LineKind uint8

// What Next found.
const (
	Incomplete   LineKind = iota // p holds no whole line yet
	ChunkSize                    // a chunk's size line: Line.Size bytes of data follow
	LastChunk                    // the last chunk's size line ("0"): trailer fields follow
	ChunkEnd                     // the line end after a chunk's data
	TrailerField                 // a trailer field line (Line.Text)
	BodyEnd                      // the blank line that ends the body
	Malformed                    // what the framing does not allow here: the body cannot be followed
)

// Line is one line of a chunked body, as Next understood it.
type Line struct {
	Kind LineKind
	Size int64  // ChunkSize: the chunk's length
	Text []byte // TrailerField: the line without its line end (a view of Next's p)
}

// Left is how many bytes of chunk data come before the next line.
func (d *Chunked) Left() int64 { return d.left }

// Skip counts off n (at most Left) bytes of chunk data that went by.
func (d *Chunked) Skip(n int64) { d.left -= n }

// Done reports whether the body has ended (Next returned BodyEnd).
func (d *Chunked) Done() bool { return d.state == atDone }

// Next reads the line at the start of p, which must not be chunk data
// (Left is 0). It returns how many bytes of p the line took, its end
// included (0 when Incomplete or Malformed), and what it was. A line may
// end in CRLF or a bare LF, and may be at most MaxChunkLine bytes.
func (d *Chunked) Next(p []byte) (int, Line) {
	if d.left > 0 || d.state == atDone {
		return 0, Line{Kind: Malformed}
	}
	i := bytes.IndexByte(p[:min(len(p), MaxChunkLine)], '\n')
	if i < 0 {
		if len(p) >= MaxChunkLine {
			return 0, Line{Kind: Malformed}
		}
		return 0, Line{Kind: Incomplete}
	}
	line := p[:i]
	if i > 0 && line[i-1] == '\r' {
		line = line[:i-1]
	}
	n := i + 1
	switch d.state {
	case atSize:
		size, ok := chunkSize(line)
		switch {
		case !ok:
			return 0, Line{Kind: Malformed}
		case size == 0:
			d.state = atTrailer
			return n, Line{Kind: LastChunk}
		}
		d.state, d.left = atDataEnd, size
		return n, Line{Kind: ChunkSize, Size: size}
	case atDataEnd:
		if len(line) != 0 {
			return 0, Line{Kind: Malformed}
		}
		d.state = atSize
		return n, Line{Kind: ChunkEnd}
	}
	if len(line) == 0 {
		d.state = atDone
		return n, Line{Kind: BodyEnd}
	}
	return n, Line{Kind: TrailerField, Text: line}
}

// chunkSize parses a size line, "1a3f" or "1a3f;ext=x": at most 16 hex
// digits (net/http's limit) for a size that fits an int64, then optional
// spaces or tabs and an extension, which is dropped.
func chunkSize(line []byte) (int64, bool) {
	var n uint64
	i := 0
	for ; i < len(line); i++ {
		v := hexVal(line[i])
		if v < 0 {
			break
		}
		if i == 16 {
			return 0, false
		}
		n = n<<4 | uint64(v)
	}
	if i == 0 || n > math.MaxInt64 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return int64(n), true
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

// ValidField reports whether a TrailerField line is a well-formed field
// ("name: value", as a header field must be: see Head.Parse). Whoever
// passes trailers on refuses others; the net/http guard leaves them to
// net/http, which judges them itself.
func (l Line) ValidField() bool {
	_, _, _, ok := splitField(l.Text)
	return l.Kind == TrailerField && ok
}

// Append appends l re-encoded the way kanaria passes every chunked body
// on: sizes in lowercase hex without extensions, trailer fields as they
// came, every line ending in CRLF. Chunk data goes between the lines
// unchanged; an Incomplete or Malformed line appends nothing.
func (l Line) Append(dst []byte) []byte {
	switch l.Kind {
	case ChunkSize:
		dst = strconv.AppendInt(dst, l.Size, 16)
	case LastChunk:
		dst = append(dst, '0')
	case TrailerField:
		dst = append(dst, l.Text...)
	case ChunkEnd, BodyEnd:
	default:
		return dst
	}
	return append(dst, "\r\n"...)
}
