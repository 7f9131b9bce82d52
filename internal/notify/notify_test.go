package notify

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/version"
)

func TestWebhookJSONShape(t *testing.T) {
	rcv := newTestReceiver(t, status(http.StatusNoContent))
	var logs logSink
	cfg := v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{{Name: "hook", Webhook: &v1alpha1.WebhookReceiver{
		URL: rcv.URL + "/hook", Headers: map[string]string{"Authorization": "Bearer s3cret"},
	}}}}
	n := mustNew(t, cfg, fastOpts(&logs))
	at := time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
	fields := map[string]string{"step": "3", "weight": "25"}
	n.Notify(Event{Rollout: "checkout", Type: EventStepReached, Message: "step 3 of 6: weight 25%",
		Revision: "v2", DashboardURL: "http://127.0.0.1:7070/r/checkout", Time: at, Fields: fields})
	fields["step"] = "changed after Notify" // must not leak into the delivery
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	h := reqs[0].Header
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := h.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("configured header not sent: %q", got)
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "kanaria/") {
		t.Errorf("User-Agent %q", h.Get("User-Agent"))
	}

	var doc map[string]any
	if err := json.Unmarshal(reqs[0].Body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"rollout": "checkout", "type": "StepReached", "message": "step 3 of 6: weight 25%",
		"revision": "v2", "dashboardURL": "http://127.0.0.1:7070/r/checkout",
		"time": "2025-03-01T12:30:00Z",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	if f, _ := doc["fields"].(map[string]any); f["step"] != "3" || f["weight"] != "25" {
		t.Errorf("fields = %v", doc["fields"])
	}
	k, _ := doc["kanaria"].(map[string]any)
	if k["version"] != version.String() || k["schema"] != WebhookSchema {
		t.Errorf("kanaria = %v", doc["kanaria"])
	}
	if id, _ := doc["id"].(string); id == "" || h.Get("X-Kanaria-Event-Id") != id {
		t.Errorf("id %q vs header %q", doc["id"], h.Get("X-Kanaria-Event-Id"))
	}
	if s := n.Stats()["hook"]; s.Sent != 1 || s.Failed != 0 || s.Retried != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestSlackPayload(t *testing.T) {
	rcv := newTestReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	var logs logSink
	cfg := v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{{Name: "slack", Slack: &v1alpha1.SlackReceiver{
		WebhookURL: rcv.URL + "/services/T000/B000/XXXX", Channel: "#releases-failures",
	}}}}
	n := mustNew(t, cfg, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventAnalysisFailed, Message: "p99 <latency> & errors up",
		Revision: "v2", DashboardURL: "http://127.0.0.1:7070/r/checkout", Fields: map[string]string{"errorRate": "4.1%"}})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	var p slackPayload
	if err := json.Unmarshal(reqs[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Channel != "#releases-failures" {
		t.Errorf("channel %q", p.Channel)
	}
	for _, want := range []string{
		":red_circle:", "*checkout*", "AnalysisFailed", "`v2`",
		"p99 &lt;latency&gt; &amp; errors up", // escaped: must not become a link
		"<http://127.0.0.1:7070/r/checkout|dashboard>",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text %q lacks %q", p.Text, want)
		}
	}
	if len(p.Blocks) < 1 || p.Blocks[0].Type != "section" || p.Blocks[0].Text == nil ||
		p.Blocks[0].Text.Type != "mrkdwn" || p.Blocks[0].Text.Text != p.Text {
		t.Fatalf("first block is not the mrkdwn line: %+v", p.Blocks)
	}
	if len(p.Blocks) != 2 || !strings.Contains(p.Blocks[1].Elements[0].Text, "errorRate: 4.1%") {
		t.Errorf("context block %+v", p.Blocks)
	}
}

func TestSlackEmojiBySeverity(t *testing.T) {
	for typ, want := range map[string]string{
		EventAnalysisFailed: ":red_circle:", EventAborted: ":red_circle:", "RollbackFailed": ":red_circle:",
		EventAnalysisInconclusive: ":large_yellow_circle:",
		EventPromoted:             ":large_green_circle:", EventFinished: ":large_green_circle:",
		EventStarted: ":rocket:", "SomethingNew": ":information_source:",
		EventDegraded: ":red_circle:", EventDataPlaneLost: ":red_circle:",
		EventRecovered: ":large_green_circle:", EventDataPlaneRestarted: ":large_green_circle:",
		"Restarted": ":large_yellow_circle:", "NotReady": ":large_yellow_circle:",
	} {
		if got := slackEmoji(Event{Type: typ}); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
	if got := slackLinkURL("http://h/r?a=1|2>"); got != "http://h/r?a=1%7C2%3E" {
		t.Errorf("link url %q", got)
	}
}

func TestRoutingFailuresToTheirOwnReceiver(t *testing.T) {
	general := newTestReceiver(t, status(http.StatusOK))
	failures := newTestReceiver(t, status(http.StatusOK))
	var logs logSink
	cfg := v1alpha1.Notifications{
		Receivers: []v1alpha1.Receiver{webhook("general", general.URL), webhook("failures", failures.URL)},
		Routes: []v1alpha1.NotificationRoute{
			{Events: []string{"analysisFailed", "Aborted"}, Receivers: []string{"failures"}},
			{Events: []string{"Started", "StepReached", "Promoted", "Finished"}, Receivers: []string{"general"}},
			// Everything about payments goes to both; each receiver still gets an event once.
			{Rollouts: []string{"payments-*"}, Receivers: []string{"general", "failures"}},
		},
	}
	n := mustNew(t, cfg, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventStarted})
	n.Notify(Event{Rollout: "checkout", Type: EventAnalysisFailed})
	n.Notify(Event{Rollout: "checkout", Type: "Unrouted"})
	n.Notify(Event{Rollout: "payments-eu", Type: EventAborted})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := func(r *testReceiver) []string {
		var out []string
		for _, e := range r.events(t) {
			out = append(out, e.Rollout+"/"+e.Type)
		}
		return out
	}
	if g, want := strings.Join(got(general), ","), "checkout/Started,payments-eu/Aborted"; g != want {
		t.Errorf("general got %s, want %s", g, want)
	}
	if g, want := strings.Join(got(failures), ","), "checkout/AnalysisFailed,payments-eu/Aborted"; g != want {
		t.Errorf("failures got %s, want %s", g, want)
	}
}

func TestNoRoutesMeansEveryReceiver(t *testing.T) {
	r := newRouter(v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("a", "http://x"), webhook("b", "http://y")}})
	if got := r.match(Event{Type: "Anything"}); len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestRetriesAfterTwo503ThenSuccess(t *testing.T) {
	rcv := newTestReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	var logs logSink
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", rcv.URL)}}, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventPromoted})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d attempts, want 3", len(reqs))
	}
	for _, r := range reqs[1:] {
		if string(r.Body) != string(reqs[0].Body) || r.Header.Get("X-Kanaria-Event-Id") != reqs[0].Header.Get("X-Kanaria-Event-Id") {
			t.Error("a retry must resend the same event with the same id")
		}
	}
	if s := n.Stats()["hook"]; s.Sent != 1 || s.Retried != 2 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestTooManyRequestsIsRetried(t *testing.T) {
	rcv := newTestReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	var logs logSink
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", rcv.URL)}}, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventPaused})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats()["hook"]; s.Sent != 1 || s.Retried != 1 || len(rcv.requests()) != 2 {
		t.Errorf("stats %+v, %d requests", s, len(rcv.requests()))
	}
}

func TestBadRequestIsNotRetried(t *testing.T) {
	rcv := newTestReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	})
	var logs logSink
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", rcv.URL)}}, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventStarted})
	// Close waits for the worker to finish with the event, so a retry
	// would have happened by the time it returns.
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(rcv.requests()); got != 1 {
		t.Fatalf("got %d attempts, want 1", got)
	}
	if s := n.Stats()["hook"]; s.Failed != 1 || s.Retried != 0 || s.Sent != 0 {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), "invalid_payload") {
		t.Errorf("the receiver's reason should be logged: %s", logs.String())
	}
}

func TestUnreachableReceiverRetriesThenFailsWithoutLeakingURL(t *testing.T) {
	dead := newTestReceiver(t, nil)
	url := dead.URL + "/services/T000/B000/topsecret"
	dead.Close() // nothing listens there any more: connection refused
	var logs logSink
	opts := fastOpts(&logs)
	opts.MaxRetries = 2
	cfg := v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{{Name: "slack", Slack: &v1alpha1.SlackReceiver{WebhookURL: url}}}}
	n := mustNew(t, cfg, opts)
	n.Notify(Event{Rollout: "checkout", Type: EventAborted})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats()["slack"]; s.Failed != 1 || s.Retried != 2 || s.Sent != 0 {
		t.Errorf("stats %+v", s)
	}
	if l := logs.String(); !strings.Contains(l, "giving up") || strings.Contains(l, "topsecret") {
		t.Errorf("log should report the failure without the webhook URL: %s", l)
	}
}

func TestHangingReceiverBlocksNeitherNotifyNorOthers(t *testing.T) {
	release := make(chan struct{})
	hang := newTestReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select { // never answers on its own
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release) // runs before the servers' cleanups close them
	healthy := newTestReceiver(t, status(http.StatusOK))
	var logs logSink
	opts := fastOpts(&logs)
	opts.QueueSize = 2000
	opts.Timeout = time.Minute // the hang outlasts the test: only Close ends it
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hang", hang.URL), webhook("healthy", healthy.URL)}}, opts)

	const events = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < events; i++ {
			n.Notify(Event{Rollout: "checkout", Type: EventStepReached, Fields: map[string]string{"seq": strconv.Itoa(i)}})
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // a guard against deadlock, not a speed test
		t.Fatal("Notify blocked behind a hanging receiver")
	}
	healthy.waitRequests(t, events)
	hang.waitRequests(t, 1)

	if err := closeWithin(t, n, 100*time.Millisecond); err == nil {
		t.Error("Close should report the events the hanging receiver never took")
	}
	st := n.Stats()
	if s := st["healthy"]; s.Sent != events || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("healthy %+v", s)
	}
	if s := st["hang"]; s.Sent != 0 || s.Dropped != events || s.Queued != 0 {
		t.Errorf("hang %+v: every event should be accounted as dropped at Close", s)
	}
	evs := healthy.events(t)
	for i, e := range evs { // one worker per receiver: order is kept
		if e.Fields["seq"] != strconv.Itoa(i) {
			t.Fatalf("event %d has seq %s", i, e.Fields["seq"])
		}
	}
}

func TestFullQueueDropsOldest(t *testing.T) {
	release := make(chan struct{})
	rcv := newTestReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) {
		if n == 1 { // hold the first delivery until the queue has overflowed
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	var logs logSink
	opts := fastOpts(&logs)
	opts.QueueSize = 10
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", rcv.URL)}}, opts)
	ev := func(i int) Event {
		return Event{Rollout: "checkout", Type: EventStepReached, Fields: map[string]string{"seq": strconv.Itoa(i)}}
	}
	n.Notify(ev(0))
	rcv.waitRequests(t, 1) // event 0 is in flight, the queue is empty
	for i := 1; i <= 100; i++ {
		n.Notify(ev(i))
	}
	if s := n.Stats()["hook"]; s.Dropped != 90 || s.Queued != 10 {
		t.Errorf("before release: %+v", s)
	}
	close(release)
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, e := range rcv.events(t) {
		seqs = append(seqs, e.Fields["seq"])
	}
	if got, want := strings.Join(seqs, ","), "0,91,92,93,94,95,96,97,98,99,100"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	if !strings.Contains(logs.String(), "droppedSoFar=90") {
		t.Errorf("drops should be logged: %s", logs.String())
	}
}

func TestCloseFlushesAndRefusesLaterEvents(t *testing.T) {
	rcv := newTestReceiver(t, status(http.StatusOK))
	var logs logSink
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", rcv.URL)}}, fastOpts(&logs))
	for i := 0; i < 50; i++ {
		n.Notify(Event{Rollout: "checkout", Type: EventStepReached})
	}
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(rcv.requests()); got != 50 {
		t.Fatalf("Close returned with %d of 50 delivered", got)
	}
	n.Notify(Event{Rollout: "checkout", Type: EventFinished})
	if s := n.Stats()["hook"]; s.Sent != 50 || s.Dropped != 1 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
	if err := closeWithin(t, n, time.Second); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNilNotifierIsANoOp(t *testing.T) {
	var n *Notifier
	n.Notify(Event{Type: EventStarted})
	if n.Stats() != nil || closeWithin(t, n, time.Second) != nil {
		t.Fatal("nil notifier should do nothing")
	}
}

func TestRedirectIsAFailureNotAGet(t *testing.T) {
	target := newTestReceiver(t, status(http.StatusOK))
	moved := newTestReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	var logs logSink
	n := mustNew(t, v1alpha1.Notifications{Receivers: []v1alpha1.Receiver{webhook("hook", moved.URL)}}, fastOpts(&logs))
	n.Notify(Event{Rollout: "checkout", Type: EventStarted})
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats()["hook"]; s.Failed != 1 || s.Retried != 0 || len(target.requests()) != 0 {
		t.Errorf("stats %+v, target got %d", s, len(target.requests()))
	}
	if !strings.Contains(logs.String(), "HTTP 302") {
		t.Errorf("log: %s", logs.String())
	}
}
