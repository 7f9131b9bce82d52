package spec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const withAnalysis = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  analysis:
    passScore: 90
    metrics:
      - name: errors
        kind: errorRate
        critical: true
        allowedEffect: 0.1
        provider: {router: {statuses: ["5xx", "429", connectionFailure]}}
      - name: p99
        kind: threshold
        condition: "result < 250"
        provider: {router: {measure: latency, quantile: 0.99}}
      - name: prom
        kind: threshold
        condition: "result < 0.01"
        interval: 5s
        provider:
          prometheus:
            address: http://127.0.0.1:9090
            query: 'sum(rate(errors{rollout="{{.Rollout}}",revision="{{.Revision}}"}[1m]))'
  strategy:
    canary:
      baseline: true
      analysis: {metrics: [errors]}
      steps:
        - setWeight: 5
        - analysis:
            duration: 1m
            minSamples: 500
            metrics:
              - p99
              - name: hits
                kind: threshold
                condition: "result > 0.5"
                provider: {web: {url: "http://127.0.0.1:1/{{.Revision}}", jsonPath: "$.data.items[0].value"}}
`

func TestAnalysisSpecParses(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(withAnalysis))
	if err != nil {
		t.Fatal(err)
	}
	s := rs[0].Spec
	step := s.Strategy.Canary.Steps[1].Analysis
	got := s.Resolve(step.Metrics)
	if len(got) != 2 || got[0].Name != "p99" || got[1].Provider.Web == nil || step.MinSamples != 500 || step.Duration.String() != "1m0s" {
		t.Fatalf("step metrics %+v", got)
	}
	bg := s.Resolve(s.Strategy.Canary.Analysis.Metrics)
	if len(bg) != 1 || bg[0].Kind != "errorRate" || !bg[0].Critical || bg[0].EffectiveInterval().String() != "1s" {
		t.Fatalf("background metrics %+v", bg)
	}
	if all := s.Resolve(nil); len(all) != 3 || all[2].EffectiveInterval().String() != "5s" || s.ComparedWith() != "baseline" {
		t.Fatalf("all metrics %+v, compared with %s", all, s.ComparedWith())
	}
	// Names and inline metrics survive the API's JSON.
	b, err := json.Marshal(s.Strategy.Canary.Steps[1])
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha1.Step
	if err := json.Unmarshal(b, &back); err != nil || back.Analysis.Metrics[0].Name != "p99" || back.Analysis.Metrics[1].Inline == nil {
		t.Fatalf("round trip %s: %+v %v", b, back, err)
	}
}

func TestErrorStatus(t *testing.T) {
	cases := []struct {
		pat    []string
		status int
		want   bool
	}{
		{nil, 0, true}, {nil, 503, true}, {nil, 429, false}, {nil, 200, false},
		{[]string{"429"}, 429, true}, {[]string{"429"}, 500, false},
		{[]string{"4xx", "connectionFailure"}, 404, true}, {[]string{"4xx"}, 0, false},
	}
	for _, c := range cases {
		if got := ErrorStatus(c.pat, c.status); got != c.want {
			t.Errorf("ErrorStatus(%v, %d) = %v", c.pat, c.status, got)
		}
	}
}

func TestAnalysisSpecErrors(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"unknown metric name", "      analysis: {metrics: [errors]}", "      analysis: {metrics: [errorz]}",
			"k.yaml:30:28: rollouts[0].spec.strategy.canary.analysis.metrics[0]: metric \"errorz\" is not defined"},
		{"prometheus cannot compare", "      - name: prom\n        kind: threshold", "      - name: prom\n        kind: latency",
			"rollouts[0].spec.analysis.metrics[2].kind: the prometheus provider returns one value, so it supports kind threshold only"},
		{"bad condition", `condition: "result < 250"`, `condition: "result <"`,
			"k.yaml:15:9: rollouts[0].spec.analysis.metrics[1]: condition:"},
		{"bad status", `"429"`, `"42x"`, "rollouts[0].spec.analysis.metrics[0].provider.router.statuses[1]: \"42x\" must be"},
		{"bad template", `{{.Revision}}"}[1m]`, `{{.Rev}}"}[1m]`, "spec.analysis.metrics[2].provider.prometheus.query: template uses an unknown field"},
		{"bad json path", `jsonPath: "$.data.items[0].value"`, `jsonPath: "$.data..x"`, "provider.web.jsonPath:"},
		{"inline unknown field", "                kind: threshold\n                condition", "                kynd: threshold\n                condition", "steps[1].analysis.metrics[1].kynd: unknown field; did you mean \"kind\"?"},
		{"negative duration", "duration: 1m", "duration: -1m", "steps[1].analysis.duration: -1m0s is negative"},
		{"threshold needs measure", "measure: latency, quantile", "quantile", "provider.router.measure: a threshold metric must say"},
		{"duplicate", "      - name: p99", "      - name: errors", "metrics[1].name: duplicate metric name \"errors\""},
		{"timeout shorter than the duration", "duration: 1m\n", "duration: 1m\n            timeout: 30s\n", "k.yaml:35:13: rollouts[0].spec.strategy.canary.steps[1].analysis.timeout: 30s is shorter than the duration 1m0s"},
		{"negative timeout", "duration: 1m\n", "duration: 1m\n            timeout: -1s\n", "steps[1].analysis.timeout: -1s is negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(withAnalysis, c.from, c.to, 1)
			if src == withAnalysis {
				t.Fatalf("mutation %q not applied", c.from)
			}
			_, err := Parse("k.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

const blueGreenAnalysis = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  analysis:
    metrics:
      - {name: errors, kind: errorRate, provider: {router: {}}}
      - {name: p99, kind: threshold, condition: "result < 250", provider: {router: {measure: latency}}}
  strategy:
    blueGreen:
      prePromotionAnalysis: {duration: 30s, metrics: [p99]}
      postPromotionAnalysis:
        duration: 1m
        timeout: 5m
        metrics: [p99]
`

func TestBlueGreenAnalysisSpec(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(blueGreenAnalysis))
	if err != nil {
		t.Fatal(err)
	}
	bg := rs[0].Spec.Strategy.BlueGreen
	if bg.PrePromotionAnalysis == nil || bg.PrePromotionAnalysis.Duration.D() != 30*time.Second || bg.PostPromotionAnalysis.EffectiveTimeout() != 5*time.Minute ||
		bg.PrePromotionAnalysis.EffectiveTimeout() != 30*time.Second+v1alpha1.DefaultAnalysisTimeoutAfter {
		t.Fatalf("parsed %+v %+v", bg.PrePromotionAnalysis, bg.PostPromotionAnalysis)
	}
	cases := []struct{ name, from, to, want string }{
		{"a comparison named", "prePromotionAnalysis: {duration: 30s, metrics: [p99]}", "prePromotionAnalysis: {duration: 30s, metrics: [p99, errors]}",
			"k.yaml:13:60: rollouts[0].spec.strategy.blueGreen.prePromotionAnalysis.metrics[1]: metric \"errors\" (kind errorRate) compares two versions, but blue/green never serves blue and green at once"},
		{"all metrics include a comparison", "        metrics: [p99]\n", "",
			"rollouts[0].spec.strategy.blueGreen.postPromotionAnalysis: metric \"errors\" (kind errorRate) compares two versions"},
		{"unknown metric", "metrics: [p99]}", "metrics: [p98]}", "blueGreen.prePromotionAnalysis.metrics[0]: metric \"p98\" is not defined"},
		{"timeout", "timeout: 5m", "timeout: 5s", "blueGreen.postPromotionAnalysis.timeout: 5s is shorter than the duration 1m0s"},
		{"nothing to wait for", "{duration: 30s, metrics: [p99]}", "{metrics: [p99]}", "blueGreen.prePromotionAnalysis: needs a duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(blueGreenAnalysis, c.from, c.to, 1)
			if src == blueGreenAnalysis {
				t.Fatalf("mutation %q not applied", c.from)
			}
			_, err := Parse("k.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
