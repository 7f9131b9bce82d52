//go:build linux

package router

import "github.com/kanaria-dev/kanaria/internal/router/internal/h1"

// A chunk line must fit a socket's read buffer: relayBody waits for whole
// lines. (The conversion fails to compile if evBufSize is the smaller.)
const _ = uint(evBufSize - h1.MaxChunkLine)

// relayBody moves what u.in holds of the answer's body to c's output; a
// chunked one is followed by u.chunks and re-encoded as copyChunked does
// (h1.Line.Append). It reports done at the body's end, and bad when the
// chunked framing is broken (the client connection must then be closed,
// as relay does).
func (l *evLoop) relayBody(u *evUpstream, c *evClient) (done, bad bool) {
	if !u.chunked {
		k := min(int64(u.w-u.r), u.left)
		c.out = append(c.out, u.in[u.r:u.r+int(k)]...)
		c.fr.shadow.body(u.in[u.r : u.r+int(k)])
		u.r += int(k)
		u.left -= k
		return u.left == 0, false
	}
	d := &u.chunks
	for u.r < u.w {
		if left := d.Left(); left > 0 {
			k := min(int64(u.w-u.r), left)
			c.out = append(c.out, u.in[u.r:u.r+int(k)]...)
			c.fr.shadow.body(u.in[u.r : u.r+int(k)])
			u.r += int(k)
			d.Skip(k)
			continue
		}
		n, line := d.Next(u.in[u.r:u.w])
		switch {
		case line.Kind == h1.Incomplete:
			return false, false // wait: u.in can hold a whole line
		case line.Kind == h1.Malformed, line.Kind == h1.TrailerField && !line.ValidField():
			return false, true
		}
		u.r += n
		c.out = line.Append(c.out)
		if d.Done() {
			return true, false
		}
	}
	return false, false
}
