package router

import (
	"net"
	"time"
)

// readDeadline keeps a connection's read deadline without touching the
// runtime timer on every request. Profiles of the goroutine path under
// keep-alive load showed two SetReadDeadline calls per request (the client's
// idle wait, the upstream's response-header wait), each a clock read and a
// timer update on the single pinned core. A deadline set a little further
// out than asked is kept for as long as it still covers the wait, so a busy
// keep-alive connection re-arms its timer about once per slack period
// rather than once per request. The cost: a timeout fires up to
// deadlineSlack(d) late, never early.
type readDeadline struct{ at time.Time } // zero: no deadline set

// deadlineSlack is how much later than asked a kept deadline may fire.
func deadlineSlack(d time.Duration) time.Duration { return d / 16 }

// atLeast makes sure c's read deadline is no earlier than now+d.
func (rd *readDeadline) atLeast(c net.Conn, now time.Time, d time.Duration) {
	if !rd.at.IsZero() && !rd.at.Before(now.Add(d)) {
		return
	}
	rd.set(c, now.Add(d+deadlineSlack(d)))
}

// set sets c's read deadline to exactly t (zero: none).
func (rd *readDeadline) set(c net.Conn, t time.Time) {
	rd.at = t
	c.SetReadDeadline(t)
}
