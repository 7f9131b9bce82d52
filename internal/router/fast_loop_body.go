//go:build linux

package router

import (
	"bytes"
	"strconv"
)

// Where a chunked answer relayed by the loop stands (see copyChunked, whose
// output it reproduces: sizes normalised, extensions dropped, trailers kept).
type chunkState uint8

const (
	chunkSizeLine chunkState = iota // waiting for "1a3f[;ext]"
	chunkData                       // left bytes of data to go
	chunkDataEnd                    // the CRLF after the data
	chunkTrailers                   // trailer lines, then the blank line
)

// relayBody moves what u.in holds of the answer's body to c's output. It
// reports done at the body's end, and bad when the chunked framing is
// broken (the client connection must then be closed, as relay does).
func (l *evLoop) relayBody(u *evUpstream, c *evClient) (done, bad bool) {
	if !u.chunked {
		k := min(int64(u.w-u.r), u.left)
		c.out = append(c.out, u.in[u.r:u.r+int(k)]...)
		u.r += int(k)
		u.left -= k
		return u.left == 0, false
	}
	for u.r < u.w {
		if u.chunk == chunkData {
			k := min(int64(u.w-u.r), u.left)
			c.out = append(c.out, u.in[u.r:u.r+int(k)]...)
			u.r += int(k)
			if u.left -= k; u.left > 0 {
				return false, false
			}
			u.chunk = chunkDataEnd
			continue
		}
		i := bytes.IndexByte(u.in[u.r:u.w], '\n')
		if i < 0 {
			return false, u.w-u.r == len(u.in) // a line over 4 KiB, as readLine refuses
		}
		line := u.in[u.r : u.r+i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		u.r += i + 1
		switch u.chunk {
		case chunkSizeLine:
			size, ok := chunkSize(line)
			if !ok {
				return false, true
			}
			if size == 0 {
				c.out = append(c.out, "0\r\n"...)
				u.chunk = chunkTrailers
				continue
			}
			c.out = strconv.AppendInt(c.out, size, 16)
			c.out = append(c.out, "\r\n"...)
			u.left, u.chunk = size, chunkData
		case chunkDataEnd:
			if len(line) != 0 {
				return false, true
			}
			c.out = append(c.out, "\r\n"...)
			u.chunk = chunkSizeLine
		case chunkTrailers:
			c.out = append(c.out, line...)
			c.out = append(c.out, "\r\n"...)
			if len(line) == 0 {
				return true, false
			}
		}
	}
	return false, false
}
