package notify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestValidateNamesFields(t *testing.T) {
	cfg := Config{
		Receivers: []Receiver{
			{Name: "ok", Webhook: &WebhookReceiver{URL: "https://hooks.example.com/x"}},
			{Name: "s", Slack: &SlackReceiver{WebhookURL: "ftp://hooks.slack.com/x"}},
			{Name: "ok", Webhook: &WebhookReceiver{URL: "http://h", Headers: map[string]string{"Bad Name": "v", "X-Ok": "a\r\nInjected: 1"}}},
			{Name: ""},
			{Name: "both", Webhook: &WebhookReceiver{URL: "http://h"}, Slack: &SlackReceiver{WebhookURL: "http://h"}},
		},
		Routes: []Route{
			{Receivers: []string{"ok", "nope"}},
			{Events: []string{""}, Rollouts: []string{"[bad"}},
		},
	}
	err := cfg.Validate()
	var ve ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"receivers[1].slack.webhookURL: must be an http or https URL",
		`receivers[2].name: "ok" is already the name of receivers[0]`,
		`receivers[2].webhook.headers["Bad Name"]: not a valid header name`,
		`receivers[2].webhook.headers["X-Ok"]: value contains a control character`,
		"receivers[3].name: required",
		"receivers[3]: set one of webhook, slack",
		"receivers[4]: set only one of webhook, slack",
		`routes[0].receivers[1]: unknown receiver "nope"`,
		"routes[1].receivers: required",
		"routes[1].events[0]: empty",
		`routes[1].rollouts[0]: bad pattern "[bad"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if _, err := New(cfg, Options{}); err == nil {
		t.Error("New must refuse an invalid config")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("empty config: %v", err)
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
