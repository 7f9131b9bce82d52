package notify

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// Defaults applied by New for zero Options fields.
const (
	DefaultMaxRetries = 5
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultQueueSize  = 1000
	DefaultTimeout    = 10 * time.Second
)

// Options tune delivery. The zero value is the production setting.
type Options struct {
	// Logger receives delivery problems; default slog.Default(). It is
	// called from delivery goroutines, never from Notify.
	Logger *slog.Logger
	// MaxRetries is how many times one event is retried after the first
	// attempt; 0 means DefaultMaxRetries, negative means never retry.
	MaxRetries int
	// Backoff is the wait before the first retry, doubled for each further
	// one; default DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps each wait, including one asked for by Retry-After, so
	// a receiver cannot park its queue for an hour; default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// QueueSize bounds each receiver's queue; when it is full the oldest
	// event is dropped. Default DefaultQueueSize.
	QueueSize int
	// Timeout bounds one delivery attempt, so a receiver that accepts the
	// connection and never answers costs at most this per attempt. Default
	// DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; default a client with no overall
	// timeout of its own (Timeout applies per attempt) that does not follow
	// redirects, because a followed 301/302 turns the POST into a GET and
	// the event would silently vanish; a 3xx is reported as a failure.
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return o
}

// Stats counts what happened to one receiver's events.
type Stats struct {
	// Sent events were accepted (2xx).
	Sent uint64 `json:"sent"`
	// Failed events were given up on: refused with a non-retryable status,
	// or still failing after MaxRetries retries.
	Failed uint64 `json:"failed"`
	// Retried counts retry attempts (not events).
	Retried uint64 `json:"retried"`
	// Dropped events never reached the receiver: pushed out of a full
	// queue, sent after Close, or still pending when Close's deadline hit.
	Dropped uint64 `json:"dropped"`
	// Queued events are waiting now.
	Queued int `json:"queued"`
}

// Notifier delivers events to the configured receivers. A nil *Notifier is
// valid and does nothing, so callers need no "are notifications configured"
// checks.
type Notifier struct {
	workers []*worker
	router  router

	mu      sync.RWMutex // guards closed against concurrent Notify
	closed  bool
	closing chan struct{} // closed by Close: drain, then stop
	ctx     context.Context
	cancel  context.CancelFunc // aborts in-flight work when Close gives up
	wg      sync.WaitGroup
}

// New validates cfg (as kanaria.yaml's loader does) and starts one delivery
// goroutine per receiver.
func New(cfg v1alpha1.Notifications, opts Options) (*Notifier, error) {
	if err := spec.ValidateNotifications(cfg); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		router:  newRouter(cfg),
		closing: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	for _, r := range cfg.Receivers {
		w := &worker{
			name:    r.Name,
			f:       newFormat(r),
			q:       newQueue(opts.QueueSize),
			opts:    opts,
			ctx:     ctx,
			closing: n.closing,
		}
		n.workers = append(n.workers, w)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			w.run()
		}()
	}
	return n, nil
}

// Notify queues ev for every receiver its routes select and returns at
// once: it never waits for the network, and a full queue drops its oldest
// event instead of blocking. A zero ev.Time is set to now.
func (n *Notifier) Notify(ev Event) {
	if n == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	// The caller may reuse its map; delivery happens later on another goroutine.
	ev.Fields = maps.Clone(ev.Fields)
	targets := n.router.match(ev)
	if len(targets) == 0 {
		return
	}
	m := message{ID: rand.Text(), Event: ev}

	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, i := range targets {
		w := n.workers[i]
		if n.closed {
			w.dropped.Add(1)
			continue
		}
		if w.q.push(m) {
			w.dropped.Add(1)
		}
	}
}

// Stats reports per-receiver counters, keyed by receiver name.
func (n *Notifier) Stats() map[string]Stats {
	if n == nil {
		return nil
	}
	out := make(map[string]Stats, len(n.workers))
	for _, w := range n.workers {
		out[w.name] = w.stats()
	}
	return out
}

// Close stops accepting events and delivers what is queued (with retries)
// until every queue is empty or ctx is done. If ctx ends first, in-flight
// requests are cancelled, what is left is counted as dropped, and Close
// returns an error saying how many events were lost. Close is idempotent.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.closing)
	}
	n.mu.Unlock()

	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done // workers stop promptly: every wait they do watches n.ctx
		var lost uint64
		for _, w := range n.workers {
			lost += w.discard()
		}
		err = fmt.Errorf("notify: closed before delivering everything (%d queued events dropped): %w", lost, ctx.Err())
	}
	n.cancel()
	return err
}
