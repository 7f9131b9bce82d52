package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/internal/version"
)

// worker owns one receiver: its queue, its goroutine and its counters, so a
// slow receiver only ever delays itself.
type worker struct {
	name    string
	f       format
	q       *queue
	opts    Options
	ctx     context.Context // cancelled when Close gives up
	closing <-chan struct{}

	sent, failed, retried, dropped atomic.Uint64
	loggedDrops                    uint64 // touched only by run's goroutine
}

func (w *worker) stats() Stats {
	return Stats{
		Sent:    w.sent.Load(),
		Failed:  w.failed.Load(),
		Retried: w.retried.Load(),
		Dropped: w.dropped.Load(),
		Queued:  w.q.len(),
	}
}

// run delivers queued messages in order until Close: after closing it keeps
// going until the queue is empty, or until the context is cancelled.
func (w *worker) run() {
	for {
		if w.ctx.Err() != nil {
			return
		}
		if m, ok := w.q.pop(); ok {
			w.deliver(m)
			w.logDrops()
			continue
		}
		select {
		case <-w.q.ready:
		case <-w.closing:
			if w.q.len() == 0 {
				return
			}
		case <-w.ctx.Done():
			return
		}
	}
}

// discard empties the queue after the workers stopped, counting the loss.
func (w *worker) discard() uint64 {
	var lost uint64
	for {
		if _, ok := w.q.pop(); !ok {
			break
		}
		lost++
	}
	w.dropped.Add(lost)
	return lost
}

// logDrops reports queue overflow from the worker, not from Notify, so a
// slow log sink cannot slow the release down; one line per batch of drops.
func (w *worker) logDrops() {
	if d := w.dropped.Load(); d != w.loggedDrops {
		w.opts.Logger.Warn("notify: queue full, events dropped", "receiver", w.name, "droppedSoFar", d)
		w.loggedDrops = d
	}
}

// deliver sends one message, retrying network errors, 429 and 5xx with
// exponential backoff. Each message ends in exactly one of sent, failed or
// dropped.
func (w *worker) deliver(m message) {
	body, err := w.f.encode(m)
	if err != nil {
		w.failed.Add(1)
		w.opts.Logger.Error("notify: cannot encode an event", "receiver", w.name, "event", m.Event.Type, "rollout", m.Event.Rollout, "err", err)
		return
	}
	for attempt := 0; ; attempt++ {
		status, wait, err := w.attempt(m.ID, body)
		if err == nil && status >= 200 && status < 300 {
			w.sent.Add(1)
			return
		}
		if w.ctx.Err() != nil { // Close gave up while we were sending
			w.dropped.Add(1)
			return
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", status)
		}
		if (status != 0 && !retryable(status)) || attempt >= w.opts.MaxRetries {
			w.failed.Add(1)
			w.opts.Logger.Warn("notify: giving up on an event", "receiver", w.name, "event", m.Event.Type,
				"rollout", m.Event.Rollout, "attempts", attempt+1, "err", err)
			return
		}
		delay := backoffDelay(attempt, w.opts.Backoff, w.opts.MaxBackoff)
		if wait > delay {
			delay = min(wait, w.opts.MaxBackoff)
		}
		w.retried.Add(1)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			w.dropped.Add(1)
			return
		}
	}
}

// attempt makes one POST. It returns the status, any Retry-After wait, and
// a network error with the URL removed: Slack webhook URLs are secrets and
// errors end up in logs.
func (w *worker) attempt(id string, body []byte) (status int, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.f.url(), bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("cannot build request")
	}
	req.Header = w.f.header()
	req.Header.Set("User-Agent", "kanaria/"+version.String())
	req.Header.Set("X-Kanaria-Event-Id", id)
	resp, err := w.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, 0, redact(err)
	}
	defer resp.Body.Close()
	// Read a little for the log and drain a bounded amount so the
	// connection can be reused; never read an unbounded body.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		wait, _ = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if s := strings.TrimSpace(string(snippet)); s != "" {
			return resp.StatusCode, wait, fmt.Errorf("HTTP %d: %q", resp.StatusCode, s)
		}
		return resp.StatusCode, wait, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, 0, nil
}

// redact drops the URL from a *url.Error but keeps the cause (and the
// error chain) so timeouts and refused connections still read clearly.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
