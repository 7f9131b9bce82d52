//go:build linux

package router

import (
	"net/netip"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
	"golang.org/x/sys/unix"
)

// evUpstream is a connection from the loop to an upstream endpoint.
type evUpstream struct {
	evSock
	pool    *evPool
	state   upState
	client  *evClient // the request it is serving; nil while idle
	resp    h1.Head   // the answer's head; its Buf is a view of in
	code    int
	left    int64 // body bytes still to relay (Content-Length)
	chunked bool
	chunks  h1.Chunked // where a chunked body stands
	reused  bool       // served a request before: a failure may just be staleness
	reuse   bool       // may serve another request after this answer
	paused  bool       // relaying waits for the client to take what it was sent
	idleAt  time.Time
}

type upState uint8

const (
	uConnecting upState = iota // connect(2) in progress, request formatted
	uAwait                     // request sent (or being sent); waiting for the head
	uBody                      // relaying the body
	uIdle                      // in the pool
)

// evPool is one endpoint's idle connections in one loop, most recently
// used last, and the endpoint's address.
type evPool struct {
	sa     unix.Sockaddr
	family int
	idle   []*evUpstream
}

// errUpstreamTimeout is a dial or response-header deadline passing.
var errUpstreamTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string { return "upstream timeout" }

func (timeoutError) Timeout() bool { return true }

func (u *evUpstream) sock() *evSock { return &u.evSock }

func (u *evUpstream) ready(l *evLoop, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		u.readable = true
	}
	writable := events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	switch u.state {
	case uConnecting:
		if !writable {
			return
		}
		if errno, err := unix.GetsockoptInt(u.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || errno != 0 {
			if err == nil {
				err = unix.Errno(errno)
			}
			l.upstreamFailed(u.client, u, err)
			return
		}
		u.state = uAwait
		l.setDeadline(&u.evSock, l.now.Add(u.client.fr.t.cfg.Timeouts.ResponseHeader.D()))
		l.sendRequest(u)
	case uAwait, uBody:
		if u.pending() > 0 && writable {
			l.sendRequest(u)
		}
		if u.fd >= 0 && u.pending() == 0 && u.readable && !u.paused {
			l.readResponse(u)
		}
	case uIdle:
		if u.readable {
			l.fill(&u.evSock)
			if u.eof || u.w > 0 { // closed by the upstream, or talking out of turn
				l.closeUpstream(u)
				return
			}
			l.putBuffer(&u.evSock)
		}
	}
}

func (u *evUpstream) expire(l *evLoop) {
	switch u.state {
	case uConnecting, uAwait:
		l.upstreamFailed(u.client, u, errUpstreamTimeout)
	case uIdle:
		l.closeUpstream(u)
	}
}

// pool returns the loop's pool for e, or nil when the loop cannot dial e
// itself (TLS, or a host name that would need a resolver).
func (l *evLoop) pool(e *endpoint) *evPool {
	p, ok := l.pools[e]
	if !ok {
		if ap, err := netip.ParseAddrPort(e.hostPort()); err == nil && e.url.Scheme == "http" {
			p = &evPool{}
			if ip := ap.Addr().Unmap(); ip.Is4() {
				p.sa, p.family = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, unix.AF_INET
			} else {
				p.sa, p.family = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}, unix.AF_INET6
			}
		}
		l.pools[e] = p
	}
	return p
}

// tableChanged forgets what the loop knew of the previous table: which
// releases it can serve, and the idle connections to endpoints t no longer
// has (nothing would take them from the pool again).
func (l *evLoop) tableChanged(t *table) {
	l.tbl = t
	clear(l.loopable)
	keep := map[*endpoint]bool{}
	t.eachEndpoint(func(e *endpoint) { keep[e] = true })
	for e, p := range l.pools {
		if keep[e] {
			continue
		}
		if p != nil {
			for len(p.idle) > 0 {
				l.closeUpstream(p.idle[len(p.idle)-1])
			}
		}
		delete(l.pools, e)
	}
}

// sendUpstream sends c's request to its endpoint over an idle pooled
// connection or a new one.
func (l *evLoop) sendUpstream(c *evClient) {
	r := &c.fr
	p := l.pool(r.ep)
	var u *evUpstream
	if !c.fresh {
		u = p.get(l, r.start, r.t.cfg.Timeouts.Idle.D())
	}
	if u == nil {
		var err error
		if u, err = l.dial(p, r.t.cfg.Timeouts.Dial.D()); err != nil {
			l.upstreamFailed(c, nil, err)
			return
		}
	}
	u.client, c.up = c, u
	bw := l.writerFor(&u.evSock)
	writeUpstreamHead(bw, &c.req, r, c.remoteIP)
	bw.Flush()
	if len(c.body) > 0 {
		u.out = append(u.out, c.body...)
		r.bodySent = true
	}
	if u.state == uConnecting {
		return // sent once connected
	}
	u.state = uAwait
	l.setDeadline(&u.evSock, l.now.Add(r.t.cfg.Timeouts.ResponseHeader.D()))
	l.sendRequest(u)
}

// sendRequest writes what is left of the request; the answer is read
// when epoll reports it.
func (l *evLoop) sendRequest(u *evUpstream) {
	if !l.flush(&u.evSock) && u.eof {
		l.upstreamFailed(u.client, u, u.err)
	}
}

// dial starts a non-blocking connection to p's endpoint.
func (l *evLoop) dial(p *evPool, timeout time.Duration) (*evUpstream, error) {
	fd, err := unix.Socket(p.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	setTCPOptions(fd, 30) // as endpoint.dial's net.Dialer does
	u := &evUpstream{pool: p, state: uAwait}
	u.fd = fd
	err = unix.Connect(fd, p.sa)
	switch err {
	case nil:
	case unix.EINPROGRESS:
		u.state = uConnecting
	default:
		unix.Close(fd)
		return nil, err
	}
	if err := l.register(u); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if u.state == uConnecting {
		l.setDeadline(&u.evSock, l.now.Add(timeout))
	}
	return u, nil
}

// get takes the most recently used idle connection younger than maxIdle.
func (p *evPool) get(l *evLoop, now time.Time, maxIdle time.Duration) *evUpstream {
	for n := len(p.idle); n > 0; n = len(p.idle) {
		u := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if maxIdle <= 0 || now.Sub(u.idleAt) < maxIdle {
			u.reused, u.deadline = true, time.Time{}
			return u
		}
		l.forget(&u.evSock)
	}
	return nil
}

// closeUpstream closes u, taking it out of its pool if it idles there.
func (l *evLoop) closeUpstream(u *evUpstream) {
	if u.fd < 0 {
		return
	}
	if u.state == uIdle {
		p := u.pool
		for i, v := range p.idle {
			if v == u {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				break
			}
		}
	}
	l.forget(&u.evSock)
}
