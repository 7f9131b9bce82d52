package provider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
)

var t0 = time.Date(2025, 1, 2, 12, 0, 0, 0, time.UTC)

func query() Query {
	return Query{Rollout: "web", Revision: "v2", ComparedWith: "baseline", CompareRevision: "v1", Start: t0, Now: t0.Add(10 * time.Second)}
}

// fill adds n requests of which errs answer status (the rest 200), with
// latencies base, base+1, ... ms.
func fill(w *Window, version, rev string, n, errs, status int, base float64) {
	for i := range n {
		st := 200
		if i < errs {
			st = status
		}
		w.Add(version, rev, st, time.Duration((base+float64(i%50))*float64(time.Millisecond)))
	}
}

func TestRouterProvider(t *testing.T) {
	w := NewWindow(1)
	fill(w, "canary", "v2", 1000, 300, 503, 100)
	fill(w, "baseline", "v1", 1000, 10, 0, 50)
	fill(w, "canary", "v2", 20, 20, 429, 100) // 429s count only where configured

	in, err := NewRouter(v1alpha1.RouterMetric{}, judge.ErrorRate, w).Fetch(context.Background(), query())
	if err != nil || in.CanaryErrors != 300 || in.CanaryTotal != 1020 || in.BaselineErrors != 10 || in.BaselineTotal != 1000 {
		t.Fatalf("default statuses: %+v %v", in, err)
	}
	if !strings.Contains(in.Query, "vs baseline v1") || !strings.Contains(in.Query, "5xx connectionFailure") {
		t.Fatalf("query as run: %q", in.Query)
	}
	in, _ = NewRouter(v1alpha1.RouterMetric{Statuses: []string{"429"}}, judge.ErrorRate, w).Fetch(context.Background(), query())
	if in.CanaryErrors != 20 || in.BaselineErrors != 0 {
		t.Fatalf("429 only: %+v", in)
	}
	in, _ = NewRouter(v1alpha1.RouterMetric{}, judge.Latency, w).Fetch(context.Background(), query())
	if len(in.Canary) != 1020 || len(in.Baseline) != 1000 {
		t.Fatalf("latency samples %d %d", len(in.Canary), len(in.Baseline))
	}
	// The judge fails a 30 % canary against a 1 % baseline.
	rep := judge.Judge([]judge.Metric{{Name: "e", Kind: judge.ErrorRate, Critical: true}}, map[string]judge.Input{"e": Fetch(context.Background(), NewRouter(v1alpha1.RouterMetric{}, judge.ErrorRate, w), query())}, judge.Config{})
	if rep.Verdict != judge.Fail {
		t.Fatalf("30%% vs 1%%: %s (%s)", rep.Verdict, rep.Reason)
	}

	thresholds := []struct {
		cfg  v1alpha1.RouterMetric
		want float64
	}{
		{v1alpha1.RouterMetric{Measure: "errorRate"}, 300.0 / 1020},
		{v1alpha1.RouterMetric{Measure: "requestRate"}, 102},
		{v1alpha1.RouterMetric{Measure: "latency", Quantile: 0.5}, 124},
	}
	for _, c := range thresholds {
		in, err := NewRouter(c.cfg, judge.Threshold, w).Fetch(context.Background(), query())
		if err != nil || in.Value == nil || *in.Value != c.want {
			t.Errorf("%s: %v %v, want %v", c.cfg.Measure, in.Value, err, c.want)
		}
	}
}

func TestRouterProviderNoData(t *testing.T) {
	w := NewWindow(1)
	fill(w, "canary", "v2", 100, 0, 0, 1)
	m := []judge.Metric{{Name: "e", Kind: judge.ErrorRate}, {Name: "p99", Kind: judge.Threshold, Condition: "result < 500"}}
	inputs := map[string]judge.Input{
		"e":   Fetch(context.Background(), NewRouter(v1alpha1.RouterMetric{}, judge.ErrorRate, w), query()),
		"p99": Fetch(context.Background(), NewRouter(v1alpha1.RouterMetric{Measure: "latency"}, judge.Threshold, NewWindow(1)), query()),
	}
	rep := judge.Judge(m, inputs, judge.Config{})
	if rep.Verdict != judge.Inconclusive || !strings.HasPrefix(rep.Metrics[0].Reason, "no data") || !strings.HasPrefix(rep.Metrics[1].Reason, "no data") {
		t.Fatalf("no baseline data: %s %+v", rep.Verdict, rep.Metrics)
	}
	// Data of another revision is an error, not the canary's numbers.
	_, err := NewRouter(v1alpha1.RouterMetric{}, judge.ErrorRate, w).Fetch(context.Background(), Query{Revision: "v3", ComparedWith: "baseline"})
	if err == nil {
		t.Fatal("stale revision accepted")
	}
}

// The reservoir stays bounded and uniform: after 40,000 requests whose
// latency is their index, its mean is near the true mean.
func TestWindowReservoir(t *testing.T) {
	w := NewWindow(7)
	for i := range 40000 {
		w.Add("canary", "v2", 200, time.Duration(i)*time.Millisecond)
	}
	d, _ := w.Snapshot("canary")
	if len(d.Latencies) != ReservoirSize || d.Total != 40000 {
		t.Fatalf("reservoir %d, total %d", len(d.Latencies), d.Total)
	}
	sum := 0.0
	for _, v := range d.Latencies {
		sum += v
	}
	if mean := sum / ReservoirSize; mean < 19000 || mean > 21000 {
		t.Fatalf("reservoir mean %.0f, want about 20000", mean)
	}
	// A new revision starts afresh.
	w.Add("canary", "v3", 500, time.Millisecond)
	if d, _ := w.Snapshot("canary"); d.Total != 1 || d.Revision != "v3" {
		t.Fatalf("new revision: %+v", d)
	}
}

func TestWebProvider(t *testing.T) {
	var gotHeader, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader, gotPath = r.Header.Get("X-Token"), r.URL.Path
		switch r.URL.Path {
		case "/v2/ok":
			fmt.Fprint(w, `{"data": {"items": [{"value": 0.004}, {"value": 9}]}}`)
		case "/v2/string":
			fmt.Fprint(w, `{"data": {"items": [{"value": "0.5"}]}}`)
		case "/v2/null":
			fmt.Fprint(w, `{"data": {"items": [{"value": null}]}}`)
		case "/v2/html":
			fmt.Fprint(w, `<html>`)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	web := func(p string) Provider {
		w, err := NewWeb(v1alpha1.WebMetric{URL: srv.URL + "/{{.Revision}}/" + p, JSONPath: "$.data.items[0].value", Headers: map[string]string{"X-Token": "t"}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	in, err := web("ok").Fetch(context.Background(), query())
	if err != nil || in.Value == nil || *in.Value != 0.004 || gotHeader != "t" || gotPath != "/v2/ok" || !strings.Contains(in.Query, srv.URL+"/v2/ok") {
		t.Fatalf("ok: %+v %v header %q path %q", in, err, gotHeader, gotPath)
	}
	if in, err := web("string").Fetch(context.Background(), query()); err != nil || *in.Value != 0.5 {
		t.Fatalf("numeric string: %+v %v", in, err)
	}
	m := []judge.Metric{{Name: "m", Kind: judge.Threshold, Condition: "result < 0.01"}}
	cases := []struct{ path, reason string }{
		{"null", "no data"},
		{"html", "provider error: GET " + srv.URL + "/v2/html: body is not JSON"},
		{"fail", "provider error: GET " + srv.URL + "/v2/fail: 500 Internal Server Error"},
	}
	for _, c := range cases {
		rep := judge.Judge(m, map[string]judge.Input{"m": Fetch(context.Background(), web(c.path), query())}, judge.Config{})
		if rep.Verdict != judge.Inconclusive || !strings.HasPrefix(rep.Metrics[0].Reason, c.reason) {
			t.Errorf("%s: %s %q", c.path, rep.Verdict, rep.Metrics[0].Reason)
		}
	}
	rep := judge.Judge(m, map[string]judge.Input{"m": Fetch(context.Background(), web("ok"), query())}, judge.Config{})
	if rep.Verdict != judge.Pass {
		t.Fatalf("0.004 < 0.01: %s %s", rep.Verdict, rep.Reason)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Debian's Prometheus on loopback scraping target
// every second, and waits (bounded) until query has a value.
func startPrometheus(t *testing.T, target, query string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: prometheus is missing (apt-get install -y --no-install-recommends prometheus): %v", err)
		}
		t.Skip("prometheus not installed (apt-get install -y --no-install-recommends prometheus)")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: app\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	p, err := NewPrometheus(v1alpha1.PrometheusMetric{Address: url, Query: query})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if in, err := p.Fetch(context.Background(), Query{Rollout: "web", Revision: "v2", Now: time.Now()}); err == nil && in.Value != nil {
			return url
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("prometheus at %s never answered %s within 20s; log:\n%s", url, query, b)
	return ""
}

func TestPrometheusProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus server")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE app_error_ratio gauge\n"+
			"app_error_ratio{rollout=\"web\",revision=\"v1\"} 0.001\n"+
			"app_error_ratio{rollout=\"web\",revision=\"v2\"} 0.25\n")
	}))
	defer target.Close()
	tmpl := `max(app_error_ratio{rollout="{{.Rollout}}",revision="{{.Revision}}"})`
	url := startPrometheus(t, strings.TrimPrefix(target.URL, "http://"), tmpl)

	fetch := func(q string) judge.Input {
		p, err := NewPrometheus(v1alpha1.PrometheusMetric{Address: url, Query: q})
		if err != nil {
			t.Fatal(err)
		}
		return Fetch(context.Background(), p, Query{Rollout: "web", Revision: "v2", Now: time.Now()})
	}
	in := fetch(tmpl)
	if in.Err != nil || in.Value == nil || *in.Value != 0.25 || in.Query != `max(app_error_ratio{rollout="web",revision="v2"})` {
		t.Fatalf("templated query: %+v", in)
	}
	m := []judge.Metric{{Name: "m", Kind: judge.Threshold, Condition: "result < 0.01"}}
	rep := judge.Judge(m, map[string]judge.Input{"m": in}, judge.Config{})
	if rep.Verdict != judge.Fail || rep.Metrics[0].Query != in.Query {
		t.Fatalf("0.25 < 0.01 should fail: %s %+v", rep.Verdict, rep.Metrics[0])
	}
	cases := []struct{ name, q, reason string }{
		{"empty result", `app_error_ratio{revision="nope"}`, "no data"},
		{"two series", `app_error_ratio`, "provider error: query returned 2 series"},
		{"bad promql", `sum(`, "provider error: prometheus " + url},
	}
	for _, c := range cases {
		rep := judge.Judge(m, map[string]judge.Input{"m": fetch(c.q)}, judge.Config{})
		if rep.Verdict != judge.Inconclusive || !strings.HasPrefix(rep.Metrics[0].Reason, c.reason) {
			t.Errorf("%s: %s %q", c.name, rep.Verdict, rep.Metrics[0].Reason)
		}
	}
	// Unreachable Prometheus: Inconclusive with the reason, never a pass.
	p, _ := NewPrometheus(v1alpha1.PrometheusMetric{Address: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), Query: "up", Timeout: v1alpha1.Duration(time.Second)})
	rep = judge.Judge(m, map[string]judge.Input{"m": Fetch(context.Background(), p, query())}, judge.Config{})
	if rep.Verdict != judge.Inconclusive || !strings.Contains(rep.Metrics[0].Reason, "connection refused") {
		t.Fatalf("unreachable: %s %q", rep.Verdict, rep.Metrics[0].Reason)
	}
}

// New refuses a provider asked for a kind it cannot measure.
func TestNewChecksCapabilities(t *testing.T) {
	_, err := New(v1alpha1.MetricSpec{Name: "x", Kind: "latency", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://127.0.0.1/", JSONPath: "a"}}}, Env{})
	if err == nil || !strings.Contains(err.Error(), "cannot measure kind latency") {
		t.Fatalf("got %v", err)
	}
}

// A window restored from a snapshot (a control plane restarted mid-
// analysis) carries on: counts add up, and the reservoir stays uniform over
// the requests before and after the restart.
func TestWindowRestore(t *testing.T) {
	before := NewWindow(7)
	for i := range 20000 {
		before.Add("canary", "v2", 200, time.Duration(i)*time.Millisecond)
	}
	before.Add("canary", "v2", 503, time.Millisecond)
	d, _ := before.Snapshot("canary")
	after := NewWindow(7)
	after.Restore("canary", d)
	for i := 20000; i < 40000; i++ {
		after.Add("canary", "v2", 200, time.Duration(i)*time.Millisecond)
	}
	got, _ := after.Snapshot("canary")
	if got.Total != 40001 || got.ByStatus[503] != 1 || got.ByStatus[200] != 40000 || len(got.Latencies) != ReservoirSize || got.Revision != "v2" {
		t.Fatalf("restored window: total %d, statuses %v, reservoir %d", got.Total, got.ByStatus, len(got.Latencies))
	}
	sum := 0.0
	for _, v := range got.Latencies {
		sum += v
	}
	if mean := sum / ReservoirSize; mean < 19000 || mean > 21000 {
		t.Fatalf("reservoir mean %.0f after the restore, want about 20000 (uniform over both halves)", mean)
	}
	if vs := after.Versions(); len(vs) != 1 || vs[0] != "canary" {
		t.Fatalf("versions %v", vs)
	}
}

// Only providers that ask another server declare themselves Remote: the
// control plane runs those beside its tick.
func TestRemoteCapability(t *testing.T) {
	web, _ := NewWeb(v1alpha1.WebMetric{URL: "http://127.0.0.1/", JSONPath: "a"})
	prom, _ := NewPrometheus(v1alpha1.PrometheusMetric{Address: "http://127.0.0.1:9090", Query: "up"})
	router := NewRouter(v1alpha1.RouterMetric{}, judge.ErrorRate, NewWindow(1))
	if !web.Capabilities().Remote || !prom.Capabilities().Remote || router.Capabilities().Remote {
		t.Fatalf("remote: web %v prometheus %v router %v", web.Capabilities().Remote, prom.Capabilities().Remote, router.Capabilities().Remote)
	}
}
