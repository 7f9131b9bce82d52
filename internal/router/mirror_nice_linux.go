//go:build linux

package router

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// idlePriority puts the calling goroutine on an OS thread of its own at
// a low scheduling priority (nice 10: about a tenth of a normal thread's
// share when both want the CPU, so the copies still progress on a busy
// machine), for good: the thread ends with
// the goroutine (it is never unlocked, so it never goes back to the
// runtime's pool). The mirror's workers run this way, so on a busy core
// the kernel gives the primary's threads (the event loop, the connection
// goroutines) the CPU first and the copies take what is left: at
// saturation the queue fills and copies are dropped, rather than users
// waiting. On an idle core the copies run at full speed.
func idlePriority() {
	runtime.LockOSThread()
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10) // best effort: a refusal only costs the priority
}
