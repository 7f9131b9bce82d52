package notify

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoffDelay is the wait before retry number attempt (0 for the first
// retry): base doubling each time, capped at max, with "equal jitter" (half
// fixed, half random) so receivers that recover are not hit by every
// kanaria at the same instant.
func backoffDelay(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) and
// returns how long the receiver asked us to wait, or false when absent or
// unreadable.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) { // avoid overflow; capped by caller anyway
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// retryable says whether a response status is worth trying again: the
// receiver is overloaded (429) or broken for now (5xx). Other 4xx mean the
// request itself is wrong and will be refused again.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}
