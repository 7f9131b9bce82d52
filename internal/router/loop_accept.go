//go:build linux

package router

import (
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Accepting in the loop. The accept goroutine (h1Server.accept) hands
// connections to the loops, but a loop that is never idle leaves it
// waiting for the runtime's own network poll, every 10 ms: under a
// saturating load on one core, new connections would wait that long. So
// each loop also watches a duplicate of the listening socket and accepts
// itself, as nginx's workers do (EPOLLEXCLUSIVE: one loop is woken per
// connection). The accept goroutine keeps running: whichever is ready
// first takes a connection, and on an error the loop cannot wait out
// (EMFILE) it stops listening and leaves accepting, with its back-off, to
// the goroutine.

// listen makes the loop accept from ln too; it does nothing for a listener
// that is not TCP.
func (l *evLoop) listen(ln net.Listener) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	fd, err := dupFD(tl)
	if err != nil {
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(fd)}
	if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
		ev.Events = unix.EPOLLIN
		if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			unix.Close(fd)
			return
		}
	}
	l.lnfd = fd
}

// stopListening closes the loop's listener (shutdown, or an error).
func (l *evLoop) stopListening() {
	if l.lnfd >= 0 {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
		unix.Close(l.lnfd)
		l.lnfd = -1
	}
}

// acceptAll accepts what the listener has queued (a bounded batch: the
// listener is level-triggered, so the rest come on the next round).
func (l *evLoop) acceptAll() {
	for i := 0; i < 64 && l.lnfd >= 0 && !l.s.closing.Load(); i++ {
		fd, sa, err := unix.Accept4(l.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			l.stopListening()
			return
		}
		setTCPOptions(fd, 15) // what net.Listen sets on the connections it accepts
		l.addClient(fd, sockaddrIP(sa))
	}
}

// dupFD duplicates c's socket (close-on-exec): a descriptor the loop owns,
// sharing the socket (and its non-blocking mode) with c.
func dupFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if cerr := rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		return -1, cerr
	}
	return fd, err
}

// setTCPOptions sets what Go's net package sets on its TCP connections:
// no Nagle delay, keep-alive probes after keepAlive seconds idle.
func setTCPOptions(fd, keepAlive int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, keepAlive)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, keepAlive)
}

// sockaddrIP is the address in sa as net.Conn.RemoteAddr shows it
// (IPv4-mapped IPv6 as IPv4), without the port.
func sockaddrIP(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).String()
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap().String()
	}
	return ""
}
