package router

import (
	"bufio"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// The mirrorer's HTTP/1.1 client: the goroutine path's upstream
// connections (upConn, h1.ReadHead, the body copiers), in pools of its own
// so a slow shadow never holds a connection the proxy wants. It is several
// times cheaper than net/http's client, and a copy costs the router's one
// core what it costs the primary's request, not more.

// mirrorPools are a mirrorer's keep-alive connections per endpoint.
type mirrorPools struct {
	mu sync.Mutex
	m  map[*endpoint]*upPool
}

func (p *mirrorPools) of(e *endpoint) *upPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[*endpoint]*upPool{}
	}
	up := p.m[e]
	if up == nil {
		up = &upPool{}
		p.m[e] = up
	}
	return up
}

func (p *mirrorPools) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, up := range p.m {
		up.closeIdle()
	}
}

// capWriter keeps what is written up to max bytes; past that it keeps
// nothing and says so.
type capWriter struct {
	buf       []byte
	max       int
	truncated bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if !w.truncated && len(w.buf)+len(p) <= w.max {
		w.buf = append(w.buf, p...)
	} else {
		w.truncated, w.buf = true, nil
	}
	return len(p), nil
}

var errMirrorAnswer = errors.New("malformed answer")

// exchange sends c's copy to ep and reads the answer, within deadline. A
// pooled connection the upstream had closed is retried once on a new one.
func (m *mirrorer) exchange(c *capture, ep *endpoint, b *backend, deadline time.Time) *shadow.Response {
	pool := m.pools.of(ep)
	now := time.Now()
	for attempt := 0; ; attempt++ {
		var uc *upConn
		var err error
		if attempt == 0 {
			uc = pool.get(now, 60*time.Second)
		}
		if uc == nil {
			if uc, err = ep.dial(min(m.opts.dial, time.Until(deadline))); err != nil {
				return &shadow.Response{Err: err.Error()}
			}
		}
		uc.c.SetDeadline(deadline)
		resp, reuse, err := m.roundTrip(c, uc, ep, b)
		if err == nil {
			if reuse {
				uc.c.SetDeadline(time.Time{})
				pool.put(uc, time.Now())
			} else {
				uc.c.Close()
			}
			return resp
		}
		uc.c.Close()
		if uc.reused && attempt == 0 && staleConn(err) {
			continue
		}
		msg := err.Error()
		if time.Now().After(deadline) {
			msg = "timeout after " + m.opts.timeout.String()
		}
		return &shadow.Response{Err: msg}
	}
}

// roundTrip writes the copy's head and body on uc and reads the answer,
// keeping at most maxBody bytes of its body. It reports whether uc may
// carry another copy.
func (m *mirrorer) roundTrip(c *capture, uc *upConn, ep *endpoint, b *backend) (*shadow.Response, bool, error) {
	bw := uc.bw
	bw.WriteString(c.req.Method)
	bw.WriteByte(' ')
	if strings.HasPrefix(c.req.Target, "/") {
		bw.WriteString(pathPrefix(ep))
	}
	bw.WriteString(c.req.Target)
	bw.WriteString(" HTTP/1.1\r\n")
	host := c.host
	if host == "" {
		host = ep.url.Host
	}
	writeFieldString(bw, "Host", host)
	for k, vs := range c.req.Header {
		for _, v := range vs {
			writeFieldString(bw, k, v)
		}
	}
	writeFieldString(bw, c.m.header, "1")
	writeFieldString(bw, c.m.versionHeader, b.revision)
	if len(c.req.Body) > 0 || c.req.Method == "POST" || c.req.Method == "PUT" || c.req.Method == "PATCH" {
		writeFieldString(bw, "Content-Length", strconv.Itoa(len(c.req.Body)))
	}
	bw.WriteString("\r\n")
	bw.Write(c.req.Body)
	if err := bw.Flush(); err != nil {
		return nil, false, err
	}
	resp := &uc.resp
	var code int
	for {
		if err := h1.ReadHead(uc.br, resp, 1<<20); err != nil {
			return nil, false, err
		}
		var ok bool
		if code, ok = h1.StatusCode(resp.Bytes(resp.First)); !ok {
			return nil, false, errMirrorAnswer
		}
		if code >= 200 || code == 101 {
			break
		}
	}
	kind, ok := resp.ResponseBody(code, c.req.Method == "HEAD")
	if !ok || code == 101 {
		return nil, false, errMirrorAnswer
	}
	out := &shadow.Response{Status: code, Header: http.Header{}}
	for i := range resp.Fields {
		if f := &resp.Fields[i]; !f.Hop {
			out.Header.Add(string(resp.Bytes(f.Name)), string(resp.Bytes(f.Value)))
		}
	}
	cw := &capWriter{max: c.m.maxBody}
	dst := bufio.NewWriterSize(cw, 4096)
	var err error
	switch kind {
	case h1.BodyLength:
		err = copyFixed(dst, uc.br, resp.Length, nil)
	case h1.BodyChunked:
		err = copyChunked(dst, uc.br, false, nil)
	case h1.BodyUntilClose:
		err = copyUntilEOF(dst, uc.br, nil)
	}
	if err == nil {
		err = dst.Flush()
	}
	if err != nil {
		return nil, false, err
	}
	out.Body, out.Truncated = cw.buf, cw.truncated
	return out, resp.Persistent(kind) && kind != h1.BodyUntilClose, nil
}

// pathPrefix is an endpoint URL's path, sent before each target as the
// proxy does (writeUpstreamHead).
func pathPrefix(e *endpoint) string {
	if p := e.url.Path; p != "" && p != "/" {
		return strings.TrimSuffix(p, "/")
	}
	return ""
}
