package router

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// upConn is one keep-alive connection to an upstream endpoint, with its
// buffers. It is owned by one request at a time.
type upConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	resp   h1.Head      // the response head being read; reused
	idleAt time.Time    // when it went back to the pool
	reused bool         // served a request before: a failure may just be a stale connection
	rdl    readDeadline // the response-header deadline, kept across requests
}

// maxIdlePerEndpoint bounds the pool like http.Transport's
// MaxIdleConnsPerHost: all traffic to a version goes to few hosts.
const maxIdlePerEndpoint = 256

// upPool keeps an endpoint's idle connections, most recently used last
// (reusing the warmest connection keeps the idle set small).
type upPool struct {
	mu   sync.Mutex
	idle []*upConn
}

// get returns an idle connection younger than maxIdle at now, or nil.
// now is the request's start time: one clock read serves the whole request.
func (p *upPool) get(now time.Time, maxIdle time.Duration) *upConn {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if maxIdle <= 0 || now.Sub(uc.idleAt) < maxIdle {
			p.mu.Unlock()
			uc.reused = true
			return uc
		}
		p.mu.Unlock()
		uc.c.Close()
		p.mu.Lock()
	}
	p.mu.Unlock()
	return nil
}

// put returns uc for reuse at now (when its answer was relayed), or
// closes it when the pool is full.
func (p *upPool) put(uc *upConn, now time.Time) {
	uc.idleAt = now
	p.mu.Lock()
	if len(p.idle) < maxIdlePerEndpoint {
		p.idle = append(p.idle, uc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	uc.c.Close()
}

// closeIdle closes every idle connection (Router.Close, endpoint removed).
func (p *upPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		uc.c.Close()
	}
}

// dial opens a new connection to e: TCP, and TLS for an https endpoint.
func (e *endpoint) dial(timeout time.Duration) (*upConn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", e.hostPort())
	if err != nil {
		return nil, err
	}
	if e.url.Scheme == "https" {
		tc := tls.Client(c, &tls.Config{ServerName: e.url.Hostname(), NextProtos: []string{"http/1.1"}})
		tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

// closeIdlePools closes the goroutine path's idle connections of t's endpoints
// that next does not list (all of them when next is nil): nothing will
// ever take them from the pool again.
func (t *table) closeIdlePools(next *table) {
	keep := map[*endpoint]bool{}
	if next != nil {
		next.eachEndpoint(func(e *endpoint) { keep[e] = true })
	}
	t.eachEndpoint(func(e *endpoint) {
		if !keep[e] {
			e.pool.closeIdle()
		}
	})
}
