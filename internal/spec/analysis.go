package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
)

// AnalysisSpec is spec.analysis: the metric definitions that analysis steps
// and the background analysis refer to by name, and the score thresholds.
type AnalysisSpec struct {
	// Metrics are the definitions, each with a unique name.
	Metrics []MetricSpec `json:"metrics"`
	// PassScore and MarginalScore are the judge's thresholds (0–100);
	// defaults 95 and 75 (Spinnaker's customary values).
	PassScore     float64 `json:"passScore,omitempty"`
	MarginalScore float64 `json:"marginalScore,omitempty"`
	// ComparedWith is "baseline" or "stable": what the canary is compared
	// with. Default: baseline when the canary strategy has baseline: true,
	// else stable. The verdict records it.
	ComparedWith string `json:"comparedWith,omitempty"`
}

// MetricSpec defines one metric: where its numbers come from (provider) and
// how the judge decides on them (kind and its settings).
type MetricSpec struct {
	// Name identifies the metric in steps and verdicts.
	Name string `json:"name"`
	// Kind is the judge's test: errorRate or latency compare the canary
	// with its baseline (or stable); threshold checks one canary value
	// against Condition.
	Kind string `json:"kind"`
	// Provider says where the numbers come from: exactly one of router,
	// prometheus, web.
	Provider MetricProvider `json:"provider"`
	// Condition is the expr-lang condition of a threshold metric, over
	// result ("result < 0.01").
	Condition string `json:"condition,omitempty"`
	// Direction is increase (default), decrease or either: which change
	// of the canary counts as worse.
	Direction string `json:"direction,omitempty"`
	// AllowedEffect is the tolerated relative change (0.25 = 25 %).
	AllowedEffect float64 `json:"allowedEffect,omitempty"`
	// DetectEffect tunes the error-rate test to catch this relative
	// increase fastest (default 1, a doubling).
	DetectEffect float64 `json:"detectEffect,omitempty"`
	// Critical: a Fail of this metric fails the analysis whatever the score.
	Critical bool `json:"critical,omitempty"`
	// Group and Weight place the metric in a scored group.
	Group  string  `json:"group,omitempty"`
	Weight float64 `json:"weight,omitempty"`
	// MustHaveData turns "no data" from Inconclusive into Fail.
	MustHaveData bool `json:"mustHaveData,omitempty"`
	// Alpha is the false alarm rate of a comparison (default 0.01).
	Alpha float64 `json:"alpha,omitempty"`
	// MinSamples is the requests (errorRate) or samples (latency) each
	// version needs before the metric may pass.
	MinSamples int `json:"minSamples,omitempty"`
	// Interval is how often the provider is asked: default 1s for the
	// router (its data is local), 10s for prometheus and web.
	Interval Duration `json:"interval,omitempty"`
}

// MetricProvider is exactly one provider's settings.
type MetricProvider struct {
	Router     *RouterMetric     `json:"router,omitempty"`
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	Web        *WebMetric        `json:"web,omitempty"`
}

// Name is "router", "prometheus", "web" or "" when none is set.
func (p MetricProvider) Name() string {
	switch {
	case p.Router != nil:
		return "router"
	case p.Prometheus != nil:
		return "prometheus"
	case p.Web != nil:
		return "web"
	}
	return ""
}

// RouterMetric reads kanaria's own per-request samples.
type RouterMetric struct {
	// Measure is errorRate, latency (milliseconds) or requestRate (req/s).
	// Default: the metric's kind (errorRate or latency); a threshold metric
	// must say.
	Measure string `json:"measure,omitempty"`
	// Statuses counted as errors: classes ("5xx"), codes ("429") and
	// "connectionFailure". Default 5xx and connection failures.
	Statuses []string `json:"statuses,omitempty"`
	// Quantile of a latency threshold (default 0.99).
	Quantile float64 `json:"quantile,omitempty"`
}

// PrometheusMetric runs an instant PromQL query. The query is a text
// template over .Rollout, .Version ("canary") and .Revision.
type PrometheusMetric struct {
	Address string   `json:"address"`
	Query   string   `json:"query"`
	Timeout Duration `json:"timeout,omitempty"`
}

// WebMetric GETs a JSON document and reads one number from it. The URL is a
// text template like the Prometheus query.
type WebMetric struct {
	URL string `json:"url"`
	// JSONPath to the value: "$.data.value", "items[0].rate".
	JSONPath string            `json:"jsonPath"`
	Headers  map[string]string `json:"headers,omitempty"`
	Timeout  Duration          `json:"timeout,omitempty"`
}

// AnalysisStep judges the canary for Duration and until MinSamples canary
// requests were seen; then Pass moves on and Inconclusive pauses. A Fail at
// any moment aborts.
type AnalysisStep struct {
	Duration   Duration `json:"duration,omitempty"`
	MinSamples int      `json:"minSamples,omitempty"`
	// Metrics by name (from spec.analysis.metrics) or inline; empty means
	// every metric of spec.analysis.
	Metrics []MetricRef `json:"metrics,omitempty"`
}

// BackgroundAnalysis runs for the whole release.
type BackgroundAnalysis struct {
	// Metrics as in an analysis step; empty means all of spec.analysis.
	Metrics []MetricRef `json:"metrics,omitempty"`
}

// MetricRef is a metric named in a step ("error-rate") or defined inline.
type MetricRef struct {
	Name   string
	Inline *MetricSpec
}

// MarshalJSON writes a name as a string and an inline metric as an object,
// as it was written.
func (m MetricRef) MarshalJSON() ([]byte, error) {
	if m.Inline != nil {
		return json.Marshal(m.Inline)
	}
	return json.Marshal(m.Name)
}

// UnmarshalJSON reads a name or an inline definition.
func (m *MetricRef) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*m = MetricRef{}
		return json.Unmarshal(b, &m.Name)
	}
	var in MetricSpec
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*m = MetricRef{Name: in.Name, Inline: &in}
	return nil
}

// UnmarshalYAML reads a name or an inline definition, refusing unknown
// fields in the latter at their position like the rest of the file.
func (m *MetricRef) UnmarshalYAML(node ast.Node) error {
	if s, ok := node.(*ast.StringNode); ok {
		*m = MetricRef{Name: s.Value}
		return nil
	}
	var in MetricSpec
	if err := yaml.NodeToValue(node, &in, yaml.Strict()); err != nil {
		return err
	}
	*m = MetricRef{Name: in.Name, Inline: &in}
	return nil
}

// Resolve returns the metric definitions refs select: named ones from the
// rollout's spec.analysis, inline ones as written; no refs means all.
// Validation guarantees every name resolves.
func (s RolloutSpec) Resolve(refs []MetricRef) []MetricSpec {
	var defs []MetricSpec
	if s.Analysis != nil {
		defs = s.Analysis.Metrics
	}
	if len(refs) == 0 {
		return append([]MetricSpec(nil), defs...)
	}
	out := make([]MetricSpec, 0, len(refs))
	for _, r := range refs {
		if r.Inline != nil {
			out = append(out, *r.Inline)
			continue
		}
		for _, d := range defs {
			if d.Name == r.Name {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// ComparedWith is what analysis compares the canary with: the configured
// value, else baseline when the canary runs a baseline copy, else stable.
func (s RolloutSpec) ComparedWith() string {
	if s.Analysis != nil && s.Analysis.ComparedWith != "" {
		return s.Analysis.ComparedWith
	}
	if c := s.Strategy.Canary; c != nil && c.Baseline {
		return "baseline"
	}
	return "stable"
}

// Default metric intervals: the router's samples are local and cheap;
// remote providers are asked less often.
const (
	DefaultRouterInterval = time.Second
	DefaultRemoteInterval = 10 * time.Second
	DefaultRemoteTimeout  = 5 * time.Second
)

// EffectiveInterval is the metric's interval with its provider's default.
func (m MetricSpec) EffectiveInterval() time.Duration {
	if m.Interval > 0 {
		return m.Interval.D()
	}
	if m.Provider.Router != nil {
		return DefaultRouterInterval
	}
	return DefaultRemoteInterval
}

// JudgeMetric converts the definition into the judge's Metric. Validation
// guarantees the names parse.
func (m MetricSpec) JudgeMetric() judge.Metric {
	jm := judge.Metric{
		Name: m.Name, Condition: m.Condition, AllowedEffect: m.AllowedEffect, DetectEffect: m.DetectEffect,
		Critical: m.Critical, Group: m.Group, Weight: m.Weight, MustHaveData: m.MustHaveData,
		Alpha: m.Alpha, MinSamples: m.MinSamples,
	}
	_ = jm.Kind.UnmarshalText([]byte(m.Kind))
	if m.Direction != "" {
		_ = jm.Direction.UnmarshalText([]byte(m.Direction))
	}
	return jm
}

// TemplateData is what a Prometheus query or a web URL may use.
type TemplateData struct {
	Rollout  string
	Version  string
	Revision string
}

// RenderTemplate renders a query or URL template.
func RenderTemplate(name, text string, d TemplateData) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

var statusRe = regexp.MustCompile(`^([1-5]xx|[1-5][0-9][0-9]|connectionFailure)$`)

// ErrorStatus reports whether an HTTP status (0 = connection failure)
// counts as an error under the given patterns (default 5xx and connection
// failures).
func ErrorStatus(patterns []string, status int) bool {
	if len(patterns) == 0 {
		return status == 0 || status >= 500
	}
	for _, p := range patterns {
		switch {
		case p == "connectionFailure":
			if status == 0 {
				return true
			}
		case strings.HasSuffix(p, "xx"):
			if status/100 == int(p[0]-'0') {
				return true
			}
		default:
			if n, _ := strconv.Atoi(p); n == status {
				return true
			}
		}
	}
	return false
}

var metricKinds = map[string]bool{"errorRate": true, "latency": true, "threshold": true}

// providerKinds declares which judge kinds each provider can feed: only the
// router has per-request data for comparisons; prometheus and web return
// one value.
var providerKinds = map[string]map[string]bool{
	"router":     {"errorRate": true, "latency": true, "threshold": true},
	"prometheus": {"threshold": true},
	"web":        {"threshold": true},
}

func validateAnalysis(p path, s RolloutSpec) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if a := s.Analysis; a != nil {
		seen := map[string]bool{}
		for i, m := range a.Metrics {
			mp := p.with("metrics", i)
			errs = append(errs, validateMetric(mp, m)...)
			if seen[m.Name] && m.Name != "" {
				add(mp.with("name"), "duplicate metric name %q", m.Name)
			}
			seen[m.Name] = true
		}
		if a.PassScore < 0 || a.PassScore > 100 {
			add(p.with("passScore"), "%v is outside 0..100", a.PassScore)
		}
		if a.MarginalScore < 0 || a.MarginalScore > 100 || (a.PassScore > 0 && a.MarginalScore > a.PassScore) {
			add(p.with("marginalScore"), "%v must be within 0..passScore", a.MarginalScore)
		}
		switch a.ComparedWith {
		case "", "stable":
		case "baseline":
			if c := s.Strategy.Canary; c == nil || !c.Baseline {
				add(p.with("comparedWith"), "baseline needs strategy.canary.baseline: true")
			}
		default:
			add(p.with("comparedWith"), "%q must be baseline or stable", a.ComparedWith)
		}
	}
	return errs
}

// validateRefs checks a step's or the background analysis's metric list:
// names must exist in spec.analysis, inline ones must be valid, and there
// must be at least one metric in the end.
func validateRefs(p path, refs []MetricRef, s RolloutSpec) []fieldError {
	var errs []fieldError
	if len(refs) == 0 && (s.Analysis == nil || len(s.Analysis.Metrics) == 0) {
		return []fieldError{fieldErr(p, "no metrics: list them here or define spec.analysis.metrics")}
	}
	for i, r := range refs {
		rp := p.with("metrics", i)
		if r.Inline != nil {
			errs = append(errs, validateMetric(rp, *r.Inline)...)
			continue
		}
		found := false
		if s.Analysis != nil {
			for _, d := range s.Analysis.Metrics {
				found = found || d.Name == r.Name
			}
		}
		if !found {
			errs = append(errs, fieldErr(rp, "metric %q is not defined in spec.analysis.metrics", r.Name))
		}
	}
	return errs
}

func validateMetric(p path, m MetricSpec) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if m.Name == "" {
		add(p.with("name"), "is required")
	}
	if !metricKinds[m.Kind] {
		add(p.with("kind"), "%q must be errorRate, latency or threshold", m.Kind)
	}
	if m.Direction != "" {
		var d judge.Direction
		if d.UnmarshalText([]byte(m.Direction)) != nil {
			add(p.with("direction"), "%q must be increase, decrease or either", m.Direction)
		}
	}
	prov := m.Provider.Name()
	n := 0
	for _, set := range []bool{m.Provider.Router != nil, m.Provider.Prometheus != nil, m.Provider.Web != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		add(p.with("provider"), "needs exactly one of router, prometheus, web; %d set", n)
	case metricKinds[m.Kind] && !providerKinds[prov][m.Kind]:
		add(p.with("kind"), "the %s provider returns one value, so it supports kind threshold only", prov)
	}
	if m.Kind == "threshold" && m.Condition == "" {
		add(p.with("condition"), "a threshold metric needs a condition such as \"result < 0.01\"")
	}
	if m.Kind != "threshold" && m.Condition != "" {
		add(p.with("condition"), "only threshold metrics take a condition")
	}
	if jm := m.JudgeMetric(); metricKinds[m.Kind] && m.Name != "" {
		if err := jm.Validate(); err != nil {
			add(p, "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("metric %q: ", m.Name)))
		}
	}
	if m.Interval < 0 {
		add(p.with("interval"), "%s is negative", m.Interval)
	}
	pp := p.with("provider")
	switch {
	case m.Provider.Router != nil:
		errs = append(errs, validateRouterMetric(pp.with("router"), m.Kind, *m.Provider.Router)...)
	case m.Provider.Prometheus != nil:
		pm := m.Provider.Prometheus
		if err := validURL(pm.Address); err != nil {
			add(pp.with("prometheus", "address"), "%v", err)
		}
		if err := checkQueryTemplate(pm.Query); err != nil {
			add(pp.with("prometheus", "query"), "%v", err)
		}
	case m.Provider.Web != nil:
		wm := m.Provider.Web
		if err := checkQueryTemplate(wm.URL); err != nil {
			add(pp.with("web", "url"), "%v", err)
		} else if u, _ := RenderTemplate("url", wm.URL, sampleTemplateData); validURL(u) != nil {
			add(pp.with("web", "url"), "%v", validURL(u))
		}
		if _, err := ParseJSONPath(wm.JSONPath); err != nil {
			add(pp.with("web", "jsonPath"), "%v", err)
		}
	}
	return errs
}

func validateRouterMetric(p path, kind string, r RouterMetric) []fieldError {
	var errs []fieldError
	switch {
	case r.Measure == "" && kind == "threshold":
		errs = append(errs, fieldErr(p.with("measure"), "a threshold metric must say what to measure: errorRate, latency or requestRate"))
	case r.Measure != "" && r.Measure != "errorRate" && r.Measure != "latency" && r.Measure != "requestRate":
		errs = append(errs, fieldErr(p.with("measure"), "%q must be errorRate, latency or requestRate", r.Measure))
	case r.Measure != "" && kind != "threshold" && r.Measure != kind:
		errs = append(errs, fieldErr(p.with("measure"), "a %s comparison measures %s, not %s", kind, kind, r.Measure))
	}
	for i, s := range r.Statuses {
		if !statusRe.MatchString(s) {
			errs = append(errs, fieldErr(p.with("statuses", i), "%q must be a class (5xx), a code (429) or connectionFailure", s))
		}
	}
	if r.Quantile < 0 || r.Quantile >= 1 {
		errs = append(errs, fieldErr(p.with("quantile"), "%v is outside (0, 1)", r.Quantile))
	}
	return errs
}

var sampleTemplateData = TemplateData{Rollout: "web", Version: "canary", Revision: "v2"}

func checkQueryTemplate(text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("is required")
	}
	t, err := template.New("q").Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("not a valid template: %v", err)
	}
	if err := t.Execute(io.Discard, sampleTemplateData); err != nil {
		return fmt.Errorf("template uses an unknown field (known: .Rollout .Version .Revision): %v", err)
	}
	return nil
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http:// or https:// URL", s)
	}
	return nil
}

// JSONPath is a parsed path to one value in a JSON document: object keys
// and array indexes.
type JSONPath []any

var jsonPathEl = regexp.MustCompile(`^([^.\[\]]*)((?:\[\d+\])*)$`)

// ParseJSONPath reads "$.data.result[0].value" or "data.value" (the leading
// "$." is optional). Only keys and indexes: enough to reach one number
// without a query language.
func ParseJSONPath(s string) (JSONPath, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
	if s == "" {
		return nil, fmt.Errorf("is required: a path such as \"$.data.value\"")
	}
	var p JSONPath
	for _, part := range strings.Split(s, ".") {
		m := jsonPathEl.FindStringSubmatch(part)
		if m == nil || (m[1] == "" && m[2] == "") {
			return nil, fmt.Errorf("%q is not a path of keys and [index]es such as \"$.data.items[0].value\"", s)
		}
		if m[1] != "" {
			p = append(p, m[1])
		}
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			p = append(p, n)
		}
	}
	return p, nil
}
