package router

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"
)

// A keep-alive connection quiet for longer than idleGrace gives its read
// buffer back and waits on a one-byte read; the request that ends the
// wait, even when its first byte arrives alone, must be served whole, and
// so must the ones after it.
func TestIdleConnectionWithoutBuffer(t *testing.T) {
	old := idleGrace
	idleGrace = 10 * time.Millisecond
	t.Cleanup(func() { idleGrace = old })
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		c := dialRouter(t, base)
		br := bufio.NewReader(c)
		req := "GET /x HTTP/1.1\r\nHost: a\r\nX-User: u\r\n\r\n"
		for i, pause := range []time.Duration{0, 100 * time.Millisecond, 100 * time.Millisecond, 0} {
			time.Sleep(pause) // past the grace: the next request ends a bufferless wait
			if i == 2 {       // the first byte alone, then the rest
				io.WriteString(c, req[:1])
				time.Sleep(20 * time.Millisecond)
				io.WriteString(c, req[1:])
			} else {
				io.WriteString(c, req)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get(DefaultVersionHeader) != "v1" {
				t.Fatalf("request %d: %d stamped %q", i, resp.StatusCode, resp.Header.Get(DefaultVersionHeader))
			}
		}
	})
}
