package spec

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/expr-lang/expr"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

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

// providerKinds declares which judge kinds each provider can feed: the
// router has per-request data and cloudwatch counts and per-period
// latencies per target group for comparisons; prometheus and web return
// one value.
var providerKinds = map[string]map[string]bool{
	"router":     {"errorRate": true, "latency": true, "threshold": true},
	"cloudwatch": {"errorRate": true, "latency": true, "threshold": true},
	"prometheus": {"threshold": true},
	"web":        {"threshold": true},
}

func validateAnalysis(p path, s v1alpha1.RolloutSpec) []fieldError {
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

// validateAnalysisStep checks an analysis step, or a blue/green pre- or
// post-promotion analysis (the same shape) at p.
func validateAnalysisStep(p path, a v1alpha1.AnalysisStep, rs v1alpha1.RolloutSpec) []fieldError {
	var errs []fieldError
	if a.Duration < 0 {
		errs = append(errs, fieldErr(p.with("duration"), "%s is negative", a.Duration))
	}
	if a.MinSamples < 0 {
		errs = append(errs, fieldErr(p.with("minSamples"), "%d is negative", a.MinSamples))
	}
	if a.Duration == 0 && a.MinSamples == 0 {
		errs = append(errs, fieldErr(p, "needs a duration (\"1m\") or minSamples, or both: the analysis ends when both are reached"))
	}
	switch {
	case a.Timeout < 0:
		errs = append(errs, fieldErr(p.with("timeout"), "%s is negative", a.Timeout))
	case a.Timeout > 0 && a.Timeout < a.Duration:
		errs = append(errs, fieldErr(p.with("timeout"), "%s is shorter than the duration %s: the analysis could never run its course", a.Timeout, a.Duration))
	}
	return append(errs, validateRefs(p, a.Metrics, rs)...)
}

// thresholdsOnly refuses comparisons in a blue/green analysis: blue and
// green never serve users at the same time, so there is nothing to compare
// green with; each metric must check green against a threshold.
func thresholdsOnly(p path, a v1alpha1.AnalysisStep, rs v1alpha1.RolloutSpec) []fieldError {
	var errs []fieldError
	for i, m := range rs.Resolve(a.Metrics) {
		if m.Kind == "threshold" || !metricKinds[m.Kind] {
			continue
		}
		at := p
		if len(a.Metrics) > 0 {
			at = p.with("metrics", i)
		}
		errs = append(errs, fieldErr(at, "metric %q (kind %s) compares two versions, but blue/green never serves blue and green at once: its analyses take threshold metrics only", m.Name, m.Kind))
	}
	return errs
}

// validateRefs checks a step's or the background analysis's metric list:
// names must exist in spec.analysis, inline ones must be valid, and there
// must be at least one metric in the end.
func validateRefs(p path, refs []v1alpha1.MetricRef, s v1alpha1.RolloutSpec) []fieldError {
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

func validateMetric(p path, m v1alpha1.MetricSpec) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if m.Name == "" {
		add(p.with("name"), "is required")
	}
	if !metricKinds[m.Kind] {
		add(p.with("kind"), "%q must be errorRate, latency or threshold", m.Kind)
	}
	switch m.Direction {
	case "", "increase", "decrease", "either":
	default:
		add(p.with("direction"), "%q must be increase, decrease or either", m.Direction)
	}
	prov := m.Provider.Name()
	n := 0
	for _, set := range []bool{m.Provider.Router != nil, m.Provider.Prometheus != nil, m.Provider.Web != nil, m.Provider.CloudWatch != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		add(p.with("provider"), "needs exactly one of router, prometheus, web, cloudwatch; %d set", n)
	case metricKinds[m.Kind] && !providerKinds[prov][m.Kind]:
		add(p.with("kind"), "the %s provider returns one value, so it supports kind threshold only", prov)
	}
	if m.Kind == "threshold" && m.Condition == "" {
		add(p.with("condition"), "a threshold metric needs a condition such as \"result < 0.01\"")
	}
	if m.Kind != "threshold" && m.Condition != "" {
		add(p.with("condition"), "only threshold metrics take a condition")
	}
	if m.AllowedEffect < 0 || m.DetectEffect < 0 || m.Weight < 0 || m.MinSamples < 0 {
		add(p, "allowedEffect, detectEffect, weight and minSamples must not be negative")
	}
	if m.Alpha < 0 || m.Alpha >= 1 {
		add(p, "alpha %v is outside (0, 1)", m.Alpha)
	}
	if m.Kind == "threshold" && m.Condition != "" {
		if err := checkCondition(m.Condition); err != nil {
			add(p, "condition: %v", err)
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
	case m.Provider.CloudWatch != nil:
		errs = append(errs, validateCloudWatchMetric(pp.with("cloudwatch"), m.Kind, *m.Provider.CloudWatch)...)
	}
	return errs
}

func validateRouterMetric(p path, kind string, r v1alpha1.RouterMetric) []fieldError {
	var errs []fieldError
	switch {
	case r.Measure == "" && kind == "threshold":
		errs = append(errs, fieldErr(p.with("measure"), "a threshold metric must say what to measure: errorRate, latency, requestRate or mirrorDifference"))
	case r.Measure != "" && r.Measure != "errorRate" && r.Measure != "latency" && r.Measure != "requestRate" && r.Measure != "mirrorDifference":
		errs = append(errs, fieldErr(p.with("measure"), "%q must be errorRate, latency, requestRate or mirrorDifference", r.Measure))
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

// checkCondition compiles a threshold condition the way the judge will run
// it: an expr-lang expression over result (a float64) that yields a boolean.
// The judge compiles it again when it evaluates; compiling here is what
// makes `kanaria lint` refuse a condition that could never run.
func checkCondition(cond string) error {
	_, err := expr.Compile(cond, expr.Env(map[string]any{"result": 0.0}), expr.AsBool())
	return err
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
