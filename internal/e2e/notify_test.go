package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a real webhook receiver on loopback that records what arrives.
type receiver struct {
	mu     sync.Mutex
	events []map[string]any
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if json.Unmarshal(body, &ev) == nil {
			rc.mu.Lock()
			rc.events = append(rc.events, ev)
			rc.mu.Unlock()
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) types() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var ts []string
	for _, ev := range rc.events {
		ts = append(ts, ev["type"].(string))
	}
	return ts
}

// TestNotificationsRoutedAndNeverBlocking: failures go to their own
// receiver, everything to the general one, and a receiver that never answers
// holds nothing up.
func TestNotificationsRoutedAndNeverBlocking(t *testing.T) {
	general, failures := newReceiver(t), newReceiver(t)
	released := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-released:
		}
	}))
	defer hang.Close()
	defer close(released)
	specYAML := specWithSteps(`        - setWeight: 10
        - pause: {}`) + `  notifications:
    receivers:
      - name: general
        webhook: {url: "` + general.srv.URL + `"}
      - name: failures
        webhook: {url: "` + failures.srv.URL + `"}
      - name: broken
        slack: {webhookURL: "` + hang.URL + `"}
    routes:
      - events: [Aborted, AnalysisFailed]
        receivers: [failures]
      - receivers: [general, broken]
`
	e := newEnv(t, specYAML)
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" })
	e.must("start", "v2")
	e.waitFor("paused at 10%", func(s status) bool { return s.Status.Phase == "Paused" })
	e.must("abort")
	e.waitFor("aborted", func(s status) bool { return s.Status.Phase == "Aborted" })

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(strings.Contains(strings.Join(general.types(), ","), "Aborted") && len(failures.types()) > 0) {
		time.Sleep(50 * time.Millisecond)
	}
	if g := strings.Join(general.types(), ","); !strings.Contains(g, "Started") || !strings.Contains(g, "Aborted") {
		t.Errorf("general receiver got %s, want Started and Aborted among them", g)
	}
	if f := failures.types(); len(f) != 1 || f[0] != "Aborted" {
		t.Errorf("failures receiver got %v, want only Aborted", f)
	}
	failures.mu.Lock()
	if len(failures.events) > 0 {
		if u, _ := failures.events[0]["dashboardURL"].(string); !strings.Contains(u, "/dashboard/#/rollouts/web") {
			t.Errorf("event links %q, want the rollout's dashboard page", u)
		}
	}
	failures.mu.Unlock()
}
