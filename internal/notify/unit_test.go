package notify

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// TestNewRefusesInvalidConfig: a notifier built in code gets the same
// checks as kanaria.yaml (internal/spec's tests cover each message).
func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{{Name: "s", Slack: &v1alpha1.SlackReceiver{WebhookURL: "ftp://hooks.slack.com/x"}}}}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "receivers[0].slack.webhookURL: must be an http or https URL") {
		t.Errorf("New accepted an invalid config or named the wrong field: %v", err)
	}
}

func TestBackoffDoublesWithinBounds(t *testing.T) {
	base, max := 100*time.Millisecond, 1*time.Second
	for attempt, full := range []time.Duration{100e6, 200e6, 400e6, 800e6, 1e9, 1e9, 1e9} {
		for i := 0; i < 50; i++ {
			d := backoffDelay(attempt, base, max)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := backoffDelay(1000, base, max); d > max { // no overflow on long outages
		t.Fatalf("huge attempt: %v", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		d  time.Duration
		ok bool
	}{
		"":     {0, false},
		"7":    {7 * time.Second, true},
		"-1":   {0, false},
		"soon": {0, false},
		now.Add(90 * time.Second).Format(http.TimeFormat): {90 * time.Second, true},
		now.Add(-time.Hour).Format(http.TimeFormat):       {0, true},
	}
	for h, want := range cases {
		d, ok := retryAfter(h, now)
		if d != want.d || ok != want.ok {
			t.Errorf("%q: %v %v, want %v %v", h, d, ok, want.d, want.ok)
		}
	}
	if !retryable(429) || !retryable(503) || retryable(400) || retryable(404) {
		t.Error("retryable statuses")
	}
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	q := newQueue(3)
	for i := 0; i < 5; i++ {
		dropped := q.push(message{ID: string(rune('a' + i))})
		if dropped != (i >= 3) {
			t.Fatalf("push %d: dropped=%v", i, dropped)
		}
	}
	var got string
	for m, ok := q.pop(); ok; m, ok = q.pop() {
		got += m.ID
	}
	if got != "cde" {
		t.Fatalf("got %q, want cde", got)
	}
}
