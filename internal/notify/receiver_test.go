package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// recorded is one request a test receiver got.
type recorded struct {
	Header http.Header
	Body   []byte
}

// testReceiver is a real HTTP server on loopback that records what it gets
// and answers with whatever respond says for the n-th request (1-based).
type testReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	arrived chan struct{} // one token per request, before respond runs
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newTestReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *testReceiver {
	t.Helper()
	tr := &testReceiver{arrived: make(chan struct{}, 10000), respond: respond}
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, recorded{Header: r.Header.Clone(), Body: body})
		n := len(tr.reqs)
		tr.mu.Unlock()
		tr.arrived <- struct{}{}
		if tr.respond != nil {
			tr.respond(n, w, r)
		}
	}))
	t.Cleanup(tr.Close)
	return tr
}

func (tr *testReceiver) requests() []recorded {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]recorded(nil), tr.reqs...)
}

// waitRequests blocks until n requests have arrived; the deadline only
// guards against a hung test, it does not measure speed.
func (tr *testReceiver) waitRequests(t *testing.T, n int) {
	t.Helper()
	guard := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-tr.arrived:
		case <-guard:
			t.Fatalf("receiver got %d of %d requests", len(tr.requests()), n)
		}
	}
}

// events decodes every request body as a generic webhook document.
func (tr *testReceiver) events(t *testing.T) []webhookPayload {
	t.Helper()
	var out []webhookPayload
	for _, r := range tr.requests() {
		var p webhookPayload
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, r.Body)
		}
		out = append(out, p)
	}
	return out
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// logSink collects the log's text so tests can look at it, and stays safe
// to write to after the test body returns.
type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fastOpts keeps retries quick so tests exercise them without waiting.
func fastOpts(l *logSink) Options {
	return Options{Logger: slog.New(slog.NewTextHandler(l, nil)), Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

func webhook(name, url string) v1alpha1.Receiver {
	return v1alpha1.Receiver{Name: name, Webhook: &v1alpha1.WebhookReceiver{URL: url}}
}

// mustNew builds a Notifier and closes it at the end of the test, so no
// delivery goroutine outlives the test.
func mustNew(t *testing.T, cfg v1alpha1.Notifications, opts Options) *Notifier {
	t.Helper()
	n, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

func closeWithin(t *testing.T, n *Notifier, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.Close(ctx)
}
