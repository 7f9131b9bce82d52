//go:build linux

package router

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The event loop (loop_*.go) serves the common keep-alive request —
// a head with no body or a small one that came with it, answered with a
// Content-Length or chunked body or none — the way nginx does: non-blocking
// sockets registered once, edge-triggered, with a readiness flag per
// socket, one loop per core.
//
// Why not a goroutine per connection: profiles of that path (conn_*.go)
// under keep-alive load showed the CPU going to the runtime's netpoller,
// not to kanaria. Each request blocks twice (the upstream's answer, the
// client's next request), and a blocking read in Go first calls read(2),
// gets EAGAIN, parks the goroutine, waits for the poller and reads again:
// two wasted system calls and two goroutine switches per request. The loop
// reads a socket only after epoll said it has data, and clears the flag on
// a short read, so each request costs one read and one write per side.
//
// Everything else — larger or chunked request bodies, upgrades, Expect,
// refusals, read-until-close answers, 1xx, TLS or named upstreams — is
// handed to the goroutine path with the bytes already read, so the two
// share one set of rules (admit and pickEndpoint in request.go, the heads
// of heads.go, the framing of internal/h1) and every correctness test runs
// against both.

// evLoop is one event loop: an epoll set, the client and upstream sockets
// registered in it, and per-endpoint pools of idle upstream connections.
// Only its own goroutine touches its state, except adopted and shut.
type evLoop struct {
	s      *h1Server
	epfd   int
	wakefd int // an eventfd: adopted connections and shutdown

	mu      sync.Mutex
	adopted []adoptedConn // guarded by mu
	shut    atomic.Int32  // shutRunning, shutDrain or shutForce

	lnfd     int       // the listener's duplicate this loop accepts on, or -1 (loop_accept.go)
	socks    []evEntry // by file descriptor
	gen      int32     // registrations so far: tells stale events apart
	nClients int
	pools    map[*endpoint]*evPool
	loopable map[*release]bool
	tbl      *table // the table loopable was computed for
	free     [][]byte
	bw       *bufio.Writer // formats heads into sink
	sink     appendSink
	events   [128]unix.EpollEvent
	now      time.Time // read once per round of events
	dense    bool      // the last park was short: spin before the next (poll)
	sweepAt  time.Time // the earliest deadline, roughly (see setDeadline)
}

const (
	shutRunning int32 = iota
	shutDrain         // finish requests in flight, close idle connections
	shutForce         // close everything now
)

// evEntry is a registered socket and the generation of its registration.
type evEntry struct {
	h   evHandler
	gen int32
}

// evHandler is a client or upstream socket's side of the loop.
type evHandler interface {
	ready(l *evLoop, events uint32) // epoll reported events
	expire(l *evLoop)               // its deadline passed
	sock() *evSock
}

// adoptedConn is an accepted connection on its way into a loop.
type adoptedConn struct {
	fd       int
	remoteIP string
}

// evBufSize is a socket's read buffer: a request or response head larger
// than this goes to the goroutine path, which allows up to MaxHeaderBytes.
const evBufSize = 4096

// startEvLoops starts one loop per usable CPU (see loopsPerServer), each also
// accepting from ln, or none when epoll is unavailable; the caller then
// serves every connection with goroutines.
func startEvLoops(s *h1Server, ln net.Listener) []*evLoop {
	var loops []*evLoop
	for i := 0; i < loopsPerServer(); i++ {
		l, err := newEvLoop(s)
		if err != nil {
			break
		}
		l.listen(ln)
		loops = append(loops, l)
		s.wg.Add(1)
		go l.run()
	}
	return loops
}

// A loop keeps its processor (a P of GOMAXPROCS) nearly all the time, so
// the first server to start loops adds one processor for everything else:
// without it, the goroutines that wait on the network (the admin API, the
// data plane's control socket, the accept goroutine) would wait for the
// runtime's own network poll, every 10 ms, whenever the loops are busy.
// With a processor idle, the runtime keeps a thread waiting on the network
// and they answer at once, and the scheduler's monitor leaves the loops'
// waits in epoll_wait alone. The loops are one per original processor.
var (
	spareProcOnce sync.Once
	loopCount     int
)

func loopsPerServer() int {
	spareProcOnce.Do(func() {
		loopCount = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(loopCount + 1)
	})
	return loopCount
}

func newEvLoop(s *h1Server) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	l := &evLoop{s: s, epfd: epfd, wakefd: wakefd, lnfd: -1, pools: map[*endpoint]*evPool{}, loopable: map[*release]bool{}}
	l.bw = bufio.NewWriterSize(&l.sink, 4096)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	return l, nil
}

// adopt moves an accepted connection into the loop. It runs on the accept
// goroutine. The socket is duplicated out of the Go runtime's poller and
// the net.Conn closed; false means c stays as it was.
func (l *evLoop) adopt(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	fd, err := dupFD(tc)
	if err != nil {
		return false
	}
	ip := remoteHost(c)
	tc.Close() // the duplicate keeps the socket open (and non-blocking)
	l.mu.Lock()
	l.adopted = append(l.adopted, adoptedConn{fd, ip})
	l.mu.Unlock()
	l.wake()
	return true
}

// shutdown asks the loop to drain (or, forced, to close everything).
func (l *evLoop) shutdown(force bool) {
	v := shutDrain
	if force {
		v = shutForce
	}
	if l.shut.Load() < v {
		l.shut.Store(v)
		l.wake()
	}
}

func (l *evLoop) wake() {
	one := [8]byte{1}
	unix.Write(l.wakefd, one[:])
}

// run is the loop; it returns once shutdown is done.
func (l *evLoop) run() {
	defer l.s.wg.Done()
	l.now = time.Now()
	l.sweepAt = l.now.Add(time.Second)
	for {
		n := l.poll()
		l.now = time.Now()
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				l.takeAdopted()
				continue
			}
			if fd == l.lnfd {
				l.acceptAll()
				continue
			}
			if fd < len(l.socks) && l.socks[fd].h != nil && l.socks[fd].gen == ev.Pad {
				l.socks[fd].h.ready(l, ev.Events)
			}
		}
		if !l.now.Before(l.sweepAt) {
			l.sweep()
		}
		if l.shut.Load() != shutRunning && l.drain() {
			break
		}
	}
	l.closeAll()
}

// Spinning before parking. Under keep-alive load the loop usually finds one
// or two events per poll and, being faster than its peers, often finds
// none: it would park several thousand times a second, and each wake-up is
// paid by whoever makes it ready (the kernel's wake-up of a sleeping thread
// on another core, from the client's or the upstream's side). Measured
// with bench/router.sh, those wake-ups made the load generator and the
// upstreams on the other core slower per request than behind nginx, whose
// worker is busier and rarely sleeps. So when the last park was short
// (traffic is dense) the loop polls for up to spinBudget first, as Linux's
// own busy polling does; after a long park (sparse traffic) it parks at
// once and spins no CPU away.
const (
	spinBudget    = 20 * time.Microsecond
	denseParkSpan = 200 * time.Microsecond // a park shorter than this means dense traffic
)

// poll returns the number of ready events in l.events. With none ready it
// spins briefly (see spinBudget), then waits in epoll_wait until some are
// or the next deadline (or a drain tick) comes. That wait goes through the
// runtime's system call path, so the scheduler hands the processor to
// other goroutines meanwhile. (Parking in the runtime's poller instead,
// with the epoll set registered there, measured 3-8 % slower under load: the
// nested registration adds a second wake-up callback to every event, paid
// by the peer that sends it.)
func (l *evLoop) poll() int {
	n, errno := rawEpollPoll(l.epfd, l.events[:])
	if n > 0 || errno != 0 && errno != unix.EINTR {
		return max(n, 0)
	}
	if l.dense {
		until := time.Now().Add(spinBudget)
		for time.Now().Before(until) {
			if n, _ = rawEpollPoll(l.epfd, l.events[:]); n > 0 {
				return n
			}
		}
	}
	parked := time.Now()
	ms := int(min(max(l.sweepAt.Sub(parked).Milliseconds()+1, 0), 1000))
	if l.shut.Load() != shutRunning {
		ms = 20
	}
	n, _ = unix.EpollWait(l.epfd, l.events[:], ms)
	l.dense = time.Since(parked) < denseParkSpan
	return max(n, 0)
}

// takeAdopted registers the connections adopt queued.
func (l *evLoop) takeAdopted() {
	var b [8]byte
	unix.Read(l.wakefd, b[:])
	l.mu.Lock()
	adopted := l.adopted
	l.adopted = nil
	l.mu.Unlock()
	for _, a := range adopted {
		l.addClient(a.fd, a.remoteIP)
	}
}

// addClient starts serving an accepted connection.
func (l *evLoop) addClient(fd int, remoteIP string) {
	c := &evClient{remoteIP: remoteIP}
	c.fd = fd
	if l.register(c) != nil {
		unix.Close(fd)
		return
	}
	l.nClients++
	c.readable = true // data may have come before the registration
	l.clientIdle(c)
	l.readRequest(c)
}

// register adds h's socket to the epoll set, edge-triggered, for reading
// and writing at once: readiness is then tracked in flags, never by
// changing the registration (a system call per change).
func (l *evLoop) register(h evHandler) error {
	s := h.sock()
	l.gen++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(s.fd), Pad: l.gen}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return err
	}
	for s.fd >= len(l.socks) {
		l.socks = append(l.socks, evEntry{})
	}
	l.socks[s.fd] = evEntry{h, l.gen}
	return nil
}

// forget closes a socket the loop owns and drops its buffers.
func (l *evLoop) forget(s *evSock) {
	l.socks[s.fd] = evEntry{}
	unix.Close(s.fd)
	s.fd = -1
	l.putBuffer(s)
	s.out, s.op = nil, 0
}

// release takes a socket out of the loop as a net.Conn for the goroutine
// path.
func (l *evLoop) release(s *evSock) (net.Conn, error) {
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	l.socks[s.fd] = evEntry{}
	f := os.NewFile(uintptr(s.fd), "")
	s.fd = -1
	l.putBuffer(s)
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}

// setDeadline sets s's deadline and makes sure the loop wakes for it
// (at most 10 ms late: sweeps are spaced so that thousands of
// connections cost nothing).
func (l *evLoop) setDeadline(s *evSock, at time.Time) {
	s.deadline = at
	if !at.IsZero() && at.Before(l.sweepAt) {
		l.sweepAt = at
	}
}

// sweep expires the sockets whose deadline passed.
func (l *evLoop) sweep() {
	next := l.now.Add(time.Second)
	for _, e := range l.socks {
		if e.h == nil {
			continue
		}
		d := e.h.sock().deadline
		switch {
		case d.IsZero():
		case !l.now.Before(d):
			e.h.sock().deadline = time.Time{}
			e.h.expire(l)
		case d.Before(next):
			next = d
		}
	}
	l.sweepAt = maxTime(next, l.now.Add(10*time.Millisecond))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// drain closes idle clients during shutdown (all clients when forced) and
// reports whether the loop may stop: no client is left.
func (l *evLoop) drain() bool {
	l.stopListening()
	force := l.shut.Load() == shutForce
	for _, e := range l.socks {
		if c, ok := e.h.(*evClient); ok && (force || c.state == cIdle) {
			l.closeClient(c)
		}
	}
	return l.nClients == 0
}

// closeAll closes what is left (idle upstream connections) and the loop.
func (l *evLoop) closeAll() {
	l.stopListening()
	for _, e := range l.socks {
		if e.h != nil {
			if c, ok := e.h.(*evClient); ok {
				l.closeClient(c)
			} else {
				l.forget(e.h.sock())
			}
		}
	}
	l.mu.Lock()
	for _, a := range l.adopted {
		unix.Close(a.fd)
	}
	l.adopted = nil
	l.mu.Unlock()
	unix.Close(l.epfd)
	unix.Close(l.wakefd)
}
