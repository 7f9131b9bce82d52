package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// analysisSpec releases demo-app revisions with a baseline, a background
// error-rate analysis and an analysis step; v3 answers 50 % errors.
const analysisSpec = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}} --error-rate-for v3=0.5"
      gracePeriod: 2s
      readiness:
        path: /healthz
        interval: 100ms
  analysis:
    metrics:
      - name: errors
        kind: errorRate
        critical: true
        minSamples: 100
        provider: {router: {}}
      - name: latency
        kind: latency
        allowedEffect: 1
        minSamples: 100
        provider: {router: {}}
  strategy:
    canary:
      baseline: true
      analysis: {metrics: [errors]}
      steps:
        - setWeight: 20
        - analysis: {duration: 2s, minSamples: 100}
        - setWeight: 50
        - pause: {}
`

// load sends requests through the router without cookies (so each gets a
// random bucket) from a few workers until stop is called or the bound is
// reached.
func (e *env) load(max int) (stop func() int64) {
	var sent atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Load() < int64(max) {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get("http://" + e.router + "/")
				if err == nil {
					resp.Body.Close()
				}
				sent.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	var once sync.Once
	return func() int64 {
		once.Do(func() { close(done); wg.Wait() })
		return sent.Load()
	}
}

type analysisRun struct {
	Kind           string    `json:"kind"`
	Revision       string    `json:"revision"`
	ComparedWith   string    `json:"comparedWith"`
	Running        bool      `json:"running"`
	CanaryRequests int64     `json:"canaryRequests"`
	Looks          int       `json:"looks"`
	StartedAt      time.Time `json:"startedAt"`
	Report         struct {
		Verdict string `json:"verdict"`
		Metrics []struct {
			Name          string   `json:"name"`
			Verdict       string   `json:"verdict"`
			CanaryValue   *float64 `json:"canaryValue"`
			BaselineValue *float64 `json:"baselineValue"`
			CanaryCount   int64    `json:"canaryCount"`
			EValue        *float64 `json:"eValue"`
			Query         string   `json:"query"`
		} `json:"metrics"`
	} `json:"report"`
}

func (e *env) analysisRuns() []analysisRun {
	e.t.Helper()
	var runs []analysisRun
	out := e.must("analysis", "-o", "json")
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		e.t.Fatalf("analysis -o json: %v\n%s", err, out)
	}
	return runs
}

func (e *env) eventTypes() []string {
	e.t.Helper()
	var events []struct{ Type, Message string }
	if err := json.Unmarshal([]byte(e.must("history", "-o", "json")), &events); err != nil {
		e.t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type+": "+ev.Message)
	}
	return types
}

// TestAnalysisEndToEnd: a good revision passes its analysis step under real
// traffic; a bad one (50 % errors) is rolled back by the background
// analysis without anyone touching it.
func TestAnalysisEndToEnd(t *testing.T) {
	e := newEnv(t, analysisSpec)
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })

	// Good: v2 passes the analysis step and stops at the pause after 50 %.
	stop := e.load(20000)
	e.must("start", "v2")
	e.waitFor("v2 past its analysis", func(s status) bool {
		return s.Status.Phase == "Paused" && s.Status.Weights.CanaryPPM == 500_000
	})
	stop()
	runs := e.analysisRuns()
	if len(runs) != 2 || runs[0].Kind != "background" || runs[1].Kind != "step" || runs[1].Report.Verdict != "Pass" || runs[1].Running {
		t.Fatalf("after v2's analysis step: %+v", runs)
	}
	if m := runs[1].Report.Metrics[0]; m.Name != "errors" || m.Verdict != "Pass" || m.CanaryCount < 100 || !strings.Contains(m.Query, "router errorRate of canary v2 vs baseline v1") {
		t.Errorf("v2 errors metric: %+v", m)
	}
	if runs[0].ComparedWith != "baseline" || runs[0].Report.Verdict == "Fail" {
		t.Errorf("background during v2: %+v", runs[0])
	}
	if table := e.must("analysis"); !strings.Contains(table, "analysis step 2 of v2 vs baseline v1") || !strings.Contains(table, "verdict Pass") {
		t.Errorf("analysis table:\n%s", table)
	}
	e.must("promote", "--full")
	e.waitFor("v2 stable", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })

	// Bad: v3 is aborted by analysis alone.
	stop = e.load(20000)
	defer stop()
	e.must("start", "v3")
	s := e.waitFor("v3 aborted by analysis", func(s status) bool { return s.Status.Phase == "Aborted" })
	stop()
	if s.Status.Weights.CanaryPPM != 0 || s.Status.StableRevision != "v2" {
		t.Fatalf("after the abort: %+v", s.Status)
	}
	var failed string
	for _, ev := range e.eventTypes() {
		if strings.HasPrefix(ev, "AnalysisFailed: ") {
			failed = ev
		}
	}
	if !strings.Contains(failed, "of v3: Fail") || !strings.Contains(failed, "errors Fail: canary") {
		t.Fatalf("no AnalysisFailed event with the numbers for v3; events:\n%s", strings.Join(e.eventTypes(), "\n"))
	}
	t.Logf("kanaria analysis after the rollback:\n%s", e.must("analysis"))
	runs = e.analysisRuns()
	var bg *analysisRun
	for i := range runs {
		if runs[i].Kind == "background" && runs[i].Revision == "v3" {
			bg = &runs[i]
		}
	}
	if bg == nil || bg.Report.Verdict != "Fail" || bg.Running {
		t.Fatalf("v3's background analysis: %+v", runs)
	}
	m := bg.Report.Metrics[0]
	if m.CanaryValue == nil || m.BaselineValue == nil || *m.CanaryValue < 0.2 || *m.BaselineValue > 0.05 || m.EValue == nil || *m.EValue < 100 {
		t.Errorf("v3's error-rate numbers: %+v", m)
	}
	for i := 0; i < 20; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("after the rollback request %d served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
}
