package router

import (
	"bytes"
	"io"
	"net/http"
)

// captureHTTP is newCapture for the net/http front end (Router.ServeHTTP):
// the request as net/http read it. A body the mirror may keep is read
// whole here (it is at most MaxBodyBytes) and given back to the proxy.
func captureHTTP(m *mirror, rel *release, req *http.Request) *capture {
	if req.Header.Get("Upgrade") != "" || !m.want(req.Method, req.URL.Path, func(name string) (string, bool) {
		v, ok := req.Header[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}) {
		return nil
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && (req.ContentLength < 0 || req.ContentLength > int64(m.maxBody)) {
		m.m.skippedBody.Add(1)
		return nil
	}
	c := m.newCapture(rel, req.Method, req.URL.RequestURI(), req.Host)
	c.req.Header = http.Header{}
	for name, vs := range req.Header {
		if hopHeader(name) || m.dropsField(name) {
			continue
		}
		c.req.Header[name] = append([]string(nil), vs...)
	}
	if hasBody && req.ContentLength > 0 {
		buf := make([]byte, req.ContentLength)
		n, err := io.ReadFull(req.Body, buf)
		c.requestBody(buf[:n])
		var rest io.Reader = bytes.NewReader(buf[:n])
		if err != nil {
			rest = io.MultiReader(rest, errReader{err})
			c = nil // a broken body is not mirrored; the proxy sees the same error
		}
		req.Body = struct {
			io.Reader
			io.Closer
		}{rest, req.Body}
	}
	return c
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// hopHeader: the hop-by-hop fields net/http leaves in a request's Header.
func hopHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// teeBody keeps what ReverseProxy reads of stable's answer for the
// mirror; the capture is handed over once the body was read to its end.
type teeBody struct {
	rc  io.ReadCloser
	c   *capture
	eof bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.body(p[:n])
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *teeBody) Close() error {
	if b.c != nil {
		if b.eof {
			b.c.done()
		} else {
			b.c.abandon()
		}
		b.c = nil
	}
	return b.rc.Close()
}
