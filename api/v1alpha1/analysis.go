package v1alpha1

import (
	"encoding/json"
	"time"
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
	// prometheus, web, cloudwatch.
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
	CloudWatch *CloudWatchMetric `json:"cloudwatch,omitempty"`
}

// Name is "router", "prometheus", "web", "cloudwatch" or "" when none is
// set.
func (p MetricProvider) Name() string {
	switch {
	case p.Router != nil:
		return "router"
	case p.Prometheus != nil:
		return "prometheus"
	case p.Web != nil:
		return "web"
	case p.CloudWatch != nil:
		return "cloudwatch"
	}
	return ""
}

// RouterMetric reads kanaria's own per-request samples.
type RouterMetric struct {
	// Measure is errorRate, latency (milliseconds), requestRate (req/s) or
	// mirrorDifference: of the mirrored requests' answers, the largest
	// rate at which a field of the canary's differs from stable's, above
	// the noise between the two copies of stable, over the significant
	// fields (0 when none is; threshold metrics only, e.g.
	// "result < 0.01").
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
// any moment aborts. An analysis still short of samples when Timeout (from
// the step's start) is reached ends Inconclusive with the counts it saw, so
// a canary without traffic pauses for a human instead of waiting forever.
// The same shape is blue/green's pre- and post-promotion analysis.
type AnalysisStep struct {
	Duration   Duration `json:"duration,omitempty"`
	MinSamples int      `json:"minSamples,omitempty"`
	// Timeout is when, counted from the start of the analysis, it ends
	// Inconclusive if it still lacks samples (the step's minSamples or a
	// metric's, or a metric never answered). Default: Duration plus
	// DefaultAnalysisTimeoutAfter; it must not be shorter than Duration.
	Timeout Duration `json:"timeout,omitempty"`
	// Metrics by name (from spec.analysis.metrics) or inline; empty means
	// every metric of spec.analysis.
	// Each is a name or an inline definition, so the CRD schema leaves
	// the items open and validation checks them.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Metrics []MetricRef `json:"metrics,omitempty"`
}

// BackgroundAnalysis runs for the whole release.
type BackgroundAnalysis struct {
	// Metrics as in an analysis step; empty means all of spec.analysis.
	// Each is a name or an inline definition, so the CRD schema leaves
	// the items open and validation checks them.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
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

// UnmarshalYAML reads a name or an inline definition for YAML libraries
// with goccy/go-yaml's InterfaceUnmarshaler signature, so this package needs
// no YAML library; unmarshal decodes the same node with the caller's
// options. kanaria.yaml does not come through here: internal/spec walks the
// document along the types itself, to report every problem with its field
// path.
func (m *MetricRef) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	if s, ok := raw.(string); ok {
		*m = MetricRef{Name: s}
		return nil
	}
	var in MetricSpec
	if err := unmarshal(&in); err != nil {
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

// DefaultAnalysisTimeoutAfter is how long past its duration an analysis
// without a timeout keeps waiting for samples before it ends Inconclusive.
const DefaultAnalysisTimeoutAfter = 5 * time.Minute

// EffectiveTimeout is the analysis's timeout with its default.
func (a AnalysisStep) EffectiveTimeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout.D()
	}
	return a.Duration.D() + DefaultAnalysisTimeoutAfter
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
