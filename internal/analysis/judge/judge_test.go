package judge

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func lognormal(rng *rand.Rand, n int, median, sigma float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(sigma*rng.NormFloat64())
	}
	return out
}

func ptr(v float64) *float64 { return &v }

var (
	errMetric = Metric{Name: "errors", Kind: ErrorRate, Critical: true, MinSamples: 1000}
	latMetric = Metric{Name: "latency", Kind: Latency, AllowedEffect: 0.1, MinSamples: 200}
	thrMetric = Metric{Name: "p99", Kind: Threshold, Condition: "result < 0.5"}
)

func goodInputs(seed uint64) map[string]Input {
	rng := rand.New(rand.NewPCG(seed, 1))
	return map[string]Input{
		"errors":  {Query: "router errors", CanaryErrors: 200, CanaryTotal: 20000, BaselineErrors: 205, BaselineTotal: 20000},
		"latency": {Canary: lognormal(rng, 3000, 100, 0.5), Baseline: lognormal(rng, 3000, 100, 0.5)},
		"p99":     {Value: ptr(0.3)},
	}
}

func find(t *testing.T, rep Report, name string) MetricResult {
	t.Helper()
	for _, r := range rep.Metrics {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %s", name)
	return MetricResult{}
}

func TestJudgeAllGoodPasses(t *testing.T) {
	rep := Judge([]Metric{errMetric, latMetric, thrMetric}, goodInputs(1), Config{})
	if rep.Verdict != Pass || rep.Score != 100 || rep.ComparedWith != "baseline" {
		t.Fatalf("verdict %v score %v compared %q: %s", rep.Verdict, rep.Score, rep.ComparedWith, rep.Reason)
	}
	e := find(t, rep, "errors")
	if e.Query != "router errors" || e.CanaryCount != 20000 || float64(e.CanaryValue) != 0.01 || math.IsNaN(float64(e.EValue)) {
		t.Errorf("error-rate numbers missing: %+v", e)
	}
	l := find(t, rep, "latency")
	if math.IsNaN(float64(l.PValue)) || math.IsNaN(float64(l.Effect)) || float64(l.EffectUpper) > 0.1 {
		t.Errorf("latency numbers: %+v", l)
	}
}

func TestJudgeCriticalErrorRateFailsRegardlessOfScore(t *testing.T) {
	in := goodInputs(2)
	in["errors"] = Input{CanaryErrors: 60, CanaryTotal: 1000, BaselineErrors: 10, BaselineTotal: 1000}
	// Many passing non-critical metrics keep the score high.
	ms := []Metric{errMetric, latMetric, thrMetric}
	for i := 0; i < 30; i++ {
		m := thrMetric
		m.Name = "ok" + string(rune('a'+i))
		ms = append(ms, m)
		in[m.Name] = Input{Value: ptr(0.1)}
	}
	rep := Judge(ms, in, Config{ComparedWith: "stable"})
	if rep.Verdict != Fail || rep.Score < 95 || !strings.Contains(rep.Reason, "critical") {
		t.Fatalf("verdict %v score %v: %s", rep.Verdict, rep.Score, rep.Reason)
	}
	if rep.ComparedWith != "stable" {
		t.Errorf("ComparedWith = %q", rep.ComparedWith)
	}
	e := find(t, rep, "errors")
	if e.Verdict != Fail || float64(e.PValue) > 0.01 || float64(e.EffectLower) <= 0 {
		t.Errorf("errors: %+v", e)
	}
}

func TestJudgeNoDataIsInconclusiveNeverPass(t *testing.T) {
	in := goodInputs(3)
	delete(in, "latency")
	in["errors"] = Input{}
	rep := Judge([]Metric{errMetric, latMetric, thrMetric}, in, Config{})
	if rep.Verdict != Inconclusive {
		t.Fatalf("verdict %v: %s", rep.Verdict, rep.Reason)
	}
	for _, n := range []string{"errors", "latency"} {
		r := find(t, rep, n)
		if r.Verdict != Inconclusive || !strings.HasPrefix(r.Reason, "no data") {
			t.Errorf("%s: %v %q", n, r.Verdict, r.Reason)
		}
	}
	// Nothing at all: still Inconclusive, not Fail and not Pass.
	rep = Judge([]Metric{errMetric, latMetric, thrMetric}, nil, Config{})
	if rep.Verdict != Inconclusive || rep.Score != 0 || rep.ScoreUpper != 100 {
		t.Errorf("empty: %v %v..%v %s", rep.Verdict, rep.Score, rep.ScoreUpper, rep.Reason)
	}
	// A threshold without a value, or with NaN, is no data too.
	rep = Judge([]Metric{thrMetric}, map[string]Input{"p99": {Value: ptr(math.NaN())}}, Config{})
	if rep.Metrics[0].Verdict != Inconclusive || rep.Verdict == Pass {
		t.Errorf("NaN threshold: %+v", rep.Metrics[0])
	}
}

func TestJudgeMustHaveDataFails(t *testing.T) {
	m := latMetric
	m.MustHaveData, m.Critical = true, true
	rep := Judge([]Metric{m}, map[string]Input{"latency": {Baseline: []float64{1, 2}}}, Config{})
	r := rep.Metrics[0]
	if r.Verdict != Fail || !strings.Contains(r.Reason, "must have data") || rep.Verdict != Fail {
		t.Errorf("%v %q overall %v", r.Verdict, r.Reason, rep.Verdict)
	}
}

func TestJudgeProviderErrorIsInconclusiveWithReason(t *testing.T) {
	m := errMetric
	m.MustHaveData = true
	in := map[string]Input{"errors": {Query: "sum(rate(x[1m]))", Err: errors.New("prometheus: connection refused")}}
	rep := Judge([]Metric{m}, in, Config{})
	r := rep.Metrics[0]
	if r.Verdict != Inconclusive || !strings.Contains(r.Reason, "connection refused") || r.Query != "sum(rate(x[1m]))" {
		t.Errorf("%v %q %q", r.Verdict, r.Reason, r.Query)
	}
	if rep.Verdict != Inconclusive {
		t.Errorf("overall %v", rep.Verdict)
	}
}

func TestJudgeThreshold(t *testing.T) {
	rep := Judge([]Metric{thrMetric}, map[string]Input{"p99": {Value: ptr(0.7)}}, Config{})
	if rep.Metrics[0].Verdict != Fail || rep.Verdict != Fail || rep.Score != 0 {
		t.Errorf("0.7 < 0.5: %+v", rep)
	}
	bad := Metric{Name: "x", Kind: Threshold, Condition: "result +"}
	if bad.Validate() == nil {
		t.Error("Validate accepted a broken condition")
	}
	notBool := Metric{Name: "x", Kind: Threshold, Condition: "result * 2"}
	if notBool.Validate() == nil {
		t.Error("Validate accepted a non-boolean condition")
	}
	rep = Judge([]Metric{bad}, map[string]Input{"x": {Value: ptr(1)}}, Config{})
	if rep.Metrics[0].Verdict != Inconclusive || !strings.Contains(rep.Metrics[0].Reason, "configuration error") {
		t.Errorf("broken condition: %+v", rep.Metrics[0])
	}
}

// Kayenta's scoring: group score = share of passing metrics, groups weighted.
func TestJudgeScoreGroupsAndThresholds(t *testing.T) {
	ms := []Metric{
		{Name: "a1", Kind: Threshold, Condition: "result < 1", Group: "A", Weight: 3},
		{Name: "a2", Kind: Threshold, Condition: "result < 1", Group: "A", Weight: 3},
		{Name: "b1", Kind: Threshold, Condition: "result < 1", Group: "B", Weight: 1},
	}
	in := map[string]Input{"a1": {Value: ptr(0)}, "a2": {Value: ptr(0)}, "b1": {Value: ptr(5)}}
	rep := Judge(ms, in, Config{})
	// (3·100 + 1·0) / 4 = 75: marginal (≥ 75, < 95).
	if rep.Score != 75 || rep.Verdict != Inconclusive {
		t.Errorf("score %v verdict %v: %s", rep.Score, rep.Verdict, rep.Reason)
	}
	if rep := Judge(ms, in, Config{PassScore: 70, MarginalScore: 50}); rep.Verdict != Pass {
		t.Errorf("pass 70: %v", rep.Verdict)
	}
	if rep := Judge(ms, in, Config{PassScore: 90, MarginalScore: 80}); rep.Verdict != Fail {
		t.Errorf("marginal 80: %v", rep.Verdict)
	}
	ms[2].Critical = true
	if rep := Judge(ms, in, Config{PassScore: 70, MarginalScore: 50}); rep.Verdict != Fail {
		t.Errorf("critical b1 failing: %v", rep.Verdict)
	}
	// Half undecided: score 0..100 → Inconclusive, not Fail.
	in2 := map[string]Input{"a1": {Value: ptr(0)}}
	rep = Judge(ms[:2], in2, Config{})
	if rep.Verdict != Inconclusive || rep.Score != 50 || rep.ScoreUpper != 100 {
		t.Errorf("half undecided: %v %v..%v", rep.Verdict, rep.Score, rep.ScoreUpper)
	}
}

func TestJudgeLatencyDirectionsAndTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	base := lognormal(rng, 2000, 100, 0.5)
	slow := lognormal(rng, 2000, 130, 0.5)
	slightly := lognormal(rng, 20000, 103, 0.5)
	big := lognormal(rng, 20000, 100, 0.5)
	cases := []struct {
		name   string
		m      Metric
		canary []float64
		base   []float64
		want   Verdict
	}{
		{"30% slower, 10% allowed", latMetric, slow, base, Fail},
		{"30% slower, 50% allowed", Metric{Name: "latency", Kind: Latency, AllowedEffect: 0.5, MinSamples: 100}, slow, base, Pass},
		{"3% slower, 10% allowed, lots of data", latMetric, slightly, big, Pass},
		{"faster is fine for increase", latMetric, base, slow, Pass},
		{"faster fails for decrease", Metric{Name: "latency", Kind: Latency, Direction: Decrease, AllowedEffect: 0.1}, base, slow, Fail},
		{"either catches slower", Metric{Name: "latency", Kind: Latency, Direction: Either, AllowedEffect: 0.1}, slow, base, Fail},
		{"below min samples", Metric{Name: "latency", Kind: Latency, AllowedEffect: 0.1, MinSamples: 5000}, slow, base, Inconclusive},
	}
	for _, c := range cases {
		rep := Judge([]Metric{c.m}, map[string]Input{"latency": {Canary: c.canary, Baseline: c.base}}, Config{Look: 3})
		if got := rep.Metrics[0].Verdict; got != c.want {
			t.Errorf("%s: %v, want %v (%s)", c.name, got, c.want, rep.Metrics[0].Reason)
		}
	}
}

func TestJudgeErrorRateDirections(t *testing.T) {
	in := map[string]Input{"hits": {CanaryErrors: 400, CanaryTotal: 1000, BaselineErrors: 600, BaselineTotal: 1000}}
	down := Metric{Name: "hits", Kind: ErrorRate, Direction: Decrease}
	r := Judge([]Metric{down}, in, Config{}).Metrics[0]
	if r.Verdict != Fail || float64(r.Effect) >= 0 || float64(r.CanaryValue) != 0.4 {
		t.Errorf("decrease: %v effect %v canary %v (%s)", r.Verdict, r.Effect, r.CanaryValue, r.Reason)
	}
	either := down
	either.Direction = Either
	if r := Judge([]Metric{either}, in, Config{}).Metrics[0]; r.Verdict != Fail {
		t.Errorf("either: %v (%s)", r.Verdict, r.Reason)
	}
	up := down
	up.Direction = Increase
	if r := Judge([]Metric{up}, in, Config{}).Metrics[0]; r.Verdict == Fail {
		t.Errorf("increase on a lower canary failed: %s", r.Reason)
	}
}

func TestSpentAlphaSumsToAlpha(t *testing.T) {
	var s float64
	for k := 1; k <= 1_000_000; k++ {
		s += spentAlpha(0.01, k)
	}
	if s > 0.01 || s < 0.00999 {
		t.Errorf("sum = %v", s)
	}
	if spentAlpha(0.01, 0) != 0.01 {
		t.Error("look 0 should be a single look")
	}
}

func TestReportJSONWithInfiniteLimits(t *testing.T) {
	rep := Judge([]Metric{errMetric}, map[string]Input{"errors": {CanaryErrors: 0, CanaryTotal: 10, BaselineErrors: 0, BaselineTotal: 10}}, Config{})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Verdict != rep.Verdict || !strings.Contains(string(b), `"effectUpper":null`) || !strings.Contains(string(b), `"verdict":"Inconclusive"`) {
		t.Errorf("round trip: %s", b)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.PassScore != 95 || c.MarginalScore != 75 || c.ComparedWith != "baseline" || c.Alpha != 0.01 {
		t.Errorf("%+v", c)
	}
	if c := (Config{PassScore: 60}).withDefaults(); c.MarginalScore != 60 {
		t.Errorf("marginal above pass: %+v", c)
	}
}

// NeedsData tells an analysis that more traffic may still decide apart
// from one that will not: no data and fewer samples than minSamples need
// data; a provider error, or balanced evidence with enough samples, does not.
func TestJudgeNeedsData(t *testing.T) {
	short := map[string]Input{
		"errors":  {CanaryErrors: 1, CanaryTotal: 300, BaselineErrors: 1, BaselineTotal: 300},
		"latency": {Canary: []float64{1, 2, 3}, Baseline: []float64{1, 2, 3}},
	}
	for _, c := range []struct {
		name   string
		ms     []Metric
		in     map[string]Input
		want   bool
		metric map[string]bool
	}{
		{"fewer requests than minSamples", []Metric{errMetric}, short, true, map[string]bool{"errors": true}},
		{"fewer samples than minSamples", []Metric{latMetric}, short, true, map[string]bool{"latency": true}},
		{"no data at all", []Metric{errMetric, thrMetric}, nil, true, map[string]bool{"errors": true, "p99": true}},
		{"a provider error is not a lack of data", []Metric{thrMetric}, map[string]Input{"p99": {Err: errors.New("timeout")}}, false, map[string]bool{"p99": false}},
		{"all decided", []Metric{errMetric, latMetric, thrMetric}, goodInputs(5), false, map[string]bool{"errors": false, "latency": false, "p99": false}},
	} {
		rep := Judge(c.ms, c.in, Config{})
		if rep.NeedsData() != c.want {
			t.Errorf("%s: NeedsData %v, want %v (%s: %s)", c.name, rep.NeedsData(), c.want, rep.Verdict, rep.Reason)
		}
		for n, want := range c.metric {
			if got := find(t, rep, n).NeedsData; got != want {
				t.Errorf("%s: metric %s NeedsData %v, want %v (%s)", c.name, n, got, want, find(t, rep, n).Reason)
			}
		}
	}
	// A Fail (or a Pass) never waits, whatever else is short.
	bad := map[string]Input{"errors": {CanaryErrors: 600, CanaryTotal: 1200, BaselineErrors: 5, BaselineTotal: 1200}}
	if rep := Judge([]Metric{errMetric, latMetric}, bad, Config{}); rep.Verdict != Fail || rep.NeedsData() {
		t.Errorf("fail: %v needsData %v", rep.Verdict, rep.NeedsData())
	}
}
