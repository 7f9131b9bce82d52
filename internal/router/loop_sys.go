//go:build linux

package router

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loop's system calls on non-blocking sockets bypass the runtime's
// syscall bookkeeping (RawSyscall): they never block, so there is nothing
// for the scheduler to do while they run. With the ordinary wrappers the
// scheduler's monitor thread, seeing the loop's only processor inside
// system calls most of the time, kept taking it away and waking up every
// 20 µs to do so: 5 % of the router's CPU in profiles under keep-alive
// load. Only the loop's wait for events (evLoop.poll) is an ordinary,
// blocking system call.

func rawRead(fd int, p []byte) (int, unix.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

func rawWrite(fd int, p []byte) (int, unix.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// rawEpollPoll collects ready events without waiting.
func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	return int(n), e
}
