package platform

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// probeClient sends readiness checks. No keep-alive: an instance should not
// carry idle connections from kanaria, and a restarted instance on the same
// port must not be probed over a dead connection.
var probeClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	// Redirects are not followed: a 3xx is not a 2xx.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// probe GETs the readiness path every Interval until it answers 2xx (nil),
// Timeout passes (an error saying what the last attempt saw), or done is
// closed (the run ended; the result is then ignored).
func (p *proc) probe(done <-chan struct{}) error {
	rd := p.l.spec.Readiness
	url := fmt.Sprintf("http://127.0.0.1:%d%s", p.port, rd.Path)
	interval, timeout := rd.Interval.D(), rd.Timeout.D()
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	last := "no attempt"
	// Bounded by the deadline; the count bound is a second guard.
	for attempt := int64(0); attempt <= int64(timeout/interval)+1; attempt++ {
		// Each attempt gets at least a second (a slow first response is
		// not a failure) but never outlives the overall deadline.
		actx, acancel := context.WithTimeout(ctx, max(interval, time.Second))
		req, _ := http.NewRequestWithContext(actx, http.MethodGet, url, nil)
		resp, err := probeClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				acancel()
				return nil
			}
			last = "GET " + rd.Path + " answered " + resp.Status
		} else if ctx.Err() == nil {
			// An attempt cut by the overall deadline says nothing new;
			// keep what the previous attempt saw (a 503, say).
			last = err.Error()
		}
		acancel()
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s (last probe: %s)", timeout, last)
		case <-time.After(interval):
		}
	}
	return fmt.Errorf("not ready within %s (last probe: %s)", timeout, last)
}
