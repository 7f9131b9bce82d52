package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// mirrorSpec mirrors every request stable serves to the canary and its
// baseline before any user is sent to the canary, and fails the release
// when the canary's answers differ from stable's clearly more often than
// the baseline's do. The demo app answers "hello from <revision>", so v2
// differs from v1 on every request and the baseline (v1) on none.
const mirrorSpec = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}}"
      gracePeriod: 2s
      readiness:
        path: /healthz
        interval: 100ms
  analysis:
    metrics:
      - name: shadow-diff
        kind: threshold
        condition: "result < 0.5"
        provider: {router: {measure: mirrorDifference}}
  strategy:
    canary:
      baseline: true
      mirror: {maxConcurrency: 4}
      steps:
        - setMirror: {name: everything, percentage: 100}
        - analysis: {duration: 3s, metrics: [shadow-diff]}
        - setWeight: 50
        - pause: {}
`

type diffReport struct {
	Revisions struct{ Primary, Candidate, Secondary string }
	Samples   int64
	Counters  struct{ Sampled, Compared int64 }
	Endpoints []struct {
		Endpoint string
		Fields   []struct {
			Kind                     string
			CandidateRate, NoiseRate float64
			Significant              bool
			Examples                 []json.RawMessage
		}
	}
	DifferenceAboveNoise float64
}

// TestMirrorEndToEnd: with weight 0 and only shadow traffic, the canary's
// changed answer is seen (kanaria diff), and the judge's "difference rate
// above noise" fails the release; users only ever got stable.
func TestMirrorEndToEnd(t *testing.T) {
	e := newEnv(t, mirrorSpec)
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })
	stop := e.load(20000)
	defer stop()
	e.must("start", "v2")
	s := e.waitFor("v2 aborted by the shadow comparison", func(s status) bool { return s.Status.Phase == "Aborted" })
	stop()
	if s.Status.Weights.CanaryPPM != 0 {
		t.Fatalf("after the abort: %+v", s.Status)
	}
	var rep diffReport
	out := e.must("diff", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, out)
	}
	if rep.Revisions.Candidate != "v2" || rep.Revisions.Primary != "v1" || rep.Revisions.Secondary != "v1" || rep.Samples == 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Endpoint != "GET /" || len(rep.Endpoints[0].Fields) != 1 {
		t.Fatalf("endpoints %+v", rep.Endpoints)
	}
	f := rep.Endpoints[0].Fields[0]
	if f.Kind != "body" || !f.Significant || f.CandidateRate != 1 || f.NoiseRate != 0 || len(f.Examples) == 0 || rep.DifferenceAboveNoise != 1 {
		t.Errorf("field %+v, difference above noise %g", f, rep.DifferenceAboveNoise)
	}
	table := e.must("diff")
	if !strings.Contains(table, "GET /") || !strings.Contains(table, "100.00%") || !strings.Contains(table, "yes") || !strings.Contains(table, "noise from baseline v1") {
		t.Errorf("diff table:\n%s", table)
	}
	var failed string
	for _, ev := range e.eventTypes() {
		if strings.HasPrefix(ev, "AnalysisFailed: ") {
			failed = ev
		}
	}
	if !strings.Contains(failed, "shadow-diff") {
		t.Errorf("no AnalysisFailed event naming shadow-diff: %q", e.eventTypes())
	}
}
