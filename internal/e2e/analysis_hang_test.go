package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangingProvider is a web metric endpoint on loopback that never answers
// in time: each request is held until the client gives up, release is
// closed, or 30 s pass.
type hangingProvider struct {
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}

	mu    sync.Mutex
	first struct {
		start, end time.Time
		cancelled  bool
	}
	n int
}

func newHangingProvider(t *testing.T) *hangingProvider {
	h := &hangingProvider{arrived: make(chan struct{}), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.n++
		first := h.n == 1
		if first {
			h.first.start = time.Now()
			close(h.arrived)
		}
		h.mu.Unlock()
		cancelled := false
		select {
		case <-r.Context().Done():
			cancelled = true
		case <-h.release:
		case <-time.After(30 * time.Second):
		}
		if first {
			h.mu.Lock()
			h.first.end, h.first.cancelled = time.Now(), cancelled
			h.mu.Unlock()
		}
		fmt.Fprint(w, `{"v": 0}`)
	}))
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		h.srv.Close()
	})
	return h
}

// firstRequest is the first request's start and end (zero while held).
func (h *hangingProvider) firstRequest() (start, end time.Time, cancelled bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first.start, h.first.end, h.first.cancelled
}

const hangRollouts = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: slow}
spec:
  revision: v1
  route: {hosts: [slow.test]}
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}"
      gracePeriod: 2s
      readiness: {path: /healthz, interval: 100ms}
  analysis:
    metrics:
      - name: hung
        kind: threshold
        condition: "result < 1"
        provider: {web: {url: "HANG/metric", jsonPath: "$.v", timeout: 60s}}
  strategy:
    canary:
      steps:
        - setWeight: 10
        - analysis: {duration: 1m, metrics: [hung]}
---
apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: fast}
spec:
  revision: v1
  route: {hosts: [fast.test]}
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}"
      gracePeriod: 2s
      readiness: {path: /healthz, interval: 100ms}
  strategy:
    canary:
      steps:
        - setWeight: 10
        - pause: {duration: 1s}
        - setWeight: 50
        - pause: {duration: 1s}
`

// statusOf is one rollout's status.
func (e *env) statusOf(name string) status {
	e.t.Helper()
	out := e.must("status", "-r", name, "-o", "json")
	var s status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		e.t.Fatalf("status -r %s -o json: %v\n%s", name, err, out)
	}
	return s
}

func (e *env) waitForRollout(name, what string, cond func(status) bool) status {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var s status
	for time.Now().Before(deadline) {
		if s = e.statusOf(name); cond(s) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("timed out waiting for %s: %s; last status %+v", name, what, s)
	return s
}

// eventTime is the time of the last event of type typ in a rollout's
// history.
func (e *env) eventTime(name, typ string) (time.Time, bool) {
	e.t.Helper()
	var events []struct {
		Type string    `json:"type"`
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal([]byte(e.must("history", "-r", name, "-o", "json")), &events); err != nil {
		e.t.Fatal(err)
	}
	var at time.Time
	for _, ev := range events {
		if ev.Type == typ {
			at = ev.Time
		}
	}
	return at, !at.IsZero()
}

// TestHungProviderDelaysNothing: rollout slow's analysis asks a web
// provider that hangs for 30 s. While that request is held, rollout fast
// goes through all its steps, and an abort of slow takes effect at once:
// the abort comes first and only then is the hung request given up.
func TestHungProviderDelaysNothing(t *testing.T) {
	h := newHangingProvider(t)
	e := newEnv(t, strings.Replace(hangRollouts, "HANG", h.srv.URL, 1))
	e.startUp()
	for _, n := range []string{"slow", "fast"} {
		e.waitForRollout(n, "healthy", func(s status) bool { return s.Status.Phase == "Healthy" })
	}
	e.must("start", "v2", "-r", "slow")
	select {
	case <-h.arrived:
	case <-time.After(60 * time.Second):
		t.Fatalf("slow's analysis never asked the web provider; slow is %+v", e.statusOf("slow").Status)
	}

	e.must("start", "v2", "-r", "fast")
	e.waitForRollout("fast", "released", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })
	start, end, _ := h.firstRequest()
	if !end.IsZero() {
		t.Fatalf("the hung request ended (%s after it began) before fast finished: the tick waited for it", end.Sub(start))
	}
	for _, typ := range []string{"Ready", "StepReached", "Finished"} {
		if at, ok := e.eventTime("fast", typ); !ok || at.Before(start) {
			t.Fatalf("fast's %s event at %v, not after the hung request began at %v", typ, at, start)
		}
	}
	if s := e.statusOf("slow"); s.Status.Phase != "Progressing" || s.Status.StepIndex != 1 {
		t.Fatalf("slow left its analysis step while the provider hung: %+v", s.Status)
	}

	e.must("abort", "-r", "slow")
	if s := e.statusOf("slow"); s.Status.Phase != "Aborted" || s.Status.Weights.CanaryPPM != 0 {
		t.Fatalf("after abort slow is %+v", s.Status)
	}
	aborted, ok := e.eventTime("slow", "Aborted")
	if !ok {
		t.Fatal("no Aborted event for slow")
	}
	deadline := time.Now().Add(20 * time.Second)
	for end.IsZero() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		_, end, _ = h.firstRequest()
	}
	_, end, cancelled := h.firstRequest()
	if end.IsZero() || !cancelled {
		t.Fatalf("the hung request was not given up when its analysis ended (ended %v, cancelled %v)", end, cancelled)
	}
	if !aborted.Before(end) {
		t.Fatalf("the abort (%v) waited for the hung request (given up at %v)", aborted, end)
	}
}
