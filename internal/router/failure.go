package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pick chooses the next usable endpoint round robin, or nil when every
// endpoint is ejected or marked down by a health check.
func (b *backend) pick() *endpoint {
	n := uint32(len(b.endpoints))
	start := b.rr.Add(1)
	for i := uint32(0); i < n; i++ {
		if e := b.endpoints[(start+i)%n]; e.usable() {
			return e
		}
	}
	return nil
}

// any returns some endpoint regardless of health: when even stable has no
// healthy endpoint, trying one beats refusing outright.
func (b *backend) any() *endpoint {
	return b.endpoints[b.rr.Add(1)%uint32(len(b.endpoints))]
}

// usable reports whether e may take traffic. The clock is read only while
// an ejection is pending, so the common path is two atomic loads.
func (e *endpoint) usable() bool {
	if e.down.Load() {
		return false
	}
	until := e.ejectedUntil.Load()
	if until == 0 {
		return true
	}
	if time.Now().UnixNano() >= until {
		e.ejectedUntil.CompareAndSwap(until, 0)
		return true
	}
	return false
}

// failed counts a connection failure; EjectAfter in a row eject e for
// EjectFor (passive ejection: no probe traffic needed to notice a dead
// instance).
func (e *endpoint) failed(h *HealthConfig) {
	if h.EjectAfter <= 0 {
		return
	}
	if e.fails.Add(1) >= int32(h.EjectAfter) {
		e.fails.Store(0)
		e.ejectedUntil.Store(time.Now().Add(h.EjectFor.D()).UnixNano())
	}
}

// succeeded resets the consecutive-failure count, writing only when needed
// so healthy traffic does not bounce the cache line between cores.
func (e *endpoint) succeeded() {
	if e.fails.Load() != 0 {
		e.fails.Store(0)
	}
}

// healthSet runs active health checks, one goroutine per release with a
// CheckPath. It is replaced whole on Update and stopped by Close.
type healthSet struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startHealth(t *table) *healthSet {
	ctx, cancel := context.WithCancel(context.Background())
	hs := &healthSet{cancel: cancel}
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		// A redirect is an answer: the instance is alive.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, rel := range t.releases {
		if rel.health.CheckPath == "" {
			// Checks may have been turned off by this Update: forget
			// verdicts no checker will ever revise.
			for _, b := range rel.versions {
				if b != nil {
					for _, e := range b.endpoints {
						e.down.Store(false)
					}
				}
			}
			continue
		}
		hs.wg.Add(1)
		go func(rel *release) {
			defer hs.wg.Done()
			interval := rel.health.CheckInterval.D()
			if interval <= 0 {
				interval = DefaultCheckInterval.D()
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				checkRelease(ctx, client, rel, interval)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}(rel)
	}
	return hs
}

// stop ends the checkers and waits for them, so Close leaves no goroutine.
func (hs *healthSet) stop() {
	if hs == nil {
		return
	}
	hs.cancel()
	hs.wg.Wait()
}

// checkRelease probes every endpoint once. 2xx and 3xx are healthy; any
// other answer or no answer marks the endpoint down until a check passes.
func checkRelease(ctx context.Context, c *http.Client, rel *release, timeout time.Duration) {
	for _, b := range rel.versions {
		if b == nil {
			continue
		}
		for _, e := range b.endpoints {
			ok := probe(ctx, c, strings.TrimSuffix(e.raw, "/")+rel.health.CheckPath, timeout)
			if ctx.Err() != nil {
				return
			}
			e.down.Store(!ok)
		}
	}
}

func probe(ctx context.Context, c *http.Client, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// errorStatus maps a proxy error to the status the router answers with.
func errorStatus(err error) int {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// upstreamUnavailable is the answer when no upstream of revision could
// answer: 504 after a timeout, else 502 (errorStatus).
func upstreamUnavailable(err error, revision string) (code int, reason, msg string) {
	code = errorStatus(err)
	return code, http.StatusText(code), "kanaria: upstream " + revision + " unavailable"
}

// staleConn: the error a reused keep-alive connection gives when the
// upstream had closed it while idle.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// retryableMethod: methods that may be sent twice (see retryable).
func retryableMethod[S []byte | string](m S) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE":
		return true
	}
	return false
}
