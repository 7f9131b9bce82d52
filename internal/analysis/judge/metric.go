// Package judge turns per-metric measurements of a canary and its baseline
// into verdicts (Pass, Fail, Inconclusive), each with the numbers behind it,
// and combines them into a 0–100 score with Kayenta's semantics (Spinnaker's
// NetflixACAJudge: weighted metric groups, critical metrics, pass and
// marginal thresholds). Error rates use an always-valid sequential test, so
// re-judging every tick does not inflate false alarms; latencies use
// Mann-Whitney U with a Hodges-Lehmann shift on per-request samples; absolute
// thresholds use an expr-lang condition, as in Argo Rollouts.
package judge

import (
	"errors"
	"fmt"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Kind says how a metric is judged.
type Kind int

const (
	// ErrorRate compares canary and baseline error counts with the
	// sequential test (stats.SequentialProportionTest).
	ErrorRate Kind = iota
	// Latency compares raw per-request samples with Mann-Whitney U and a
	// Hodges-Lehmann shift (stats.MannWhitney).
	Latency
	// Threshold checks a single canary value against Metric.Condition.
	Threshold
)

// String is the name used in configuration and reports.
func (k Kind) String() string {
	switch k {
	case ErrorRate:
		return "errorRate"
	case Latency:
		return "latency"
	case Threshold:
		return "threshold"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText makes kinds read as their names in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Direction says which change of the canary counts as worse.
type Direction int

const (
	// Increase: the canary is worse when its values are higher (errors, latency).
	Increase Direction = iota
	// Decrease: the canary is worse when its values are lower (throughput, hit rate).
	Decrease
	// Either: any change beyond the allowed effect is worse.
	Either
)

// String is the name used in configuration and reports.
func (d Direction) String() string {
	switch d {
	case Increase:
		return "increase"
	case Decrease:
		return "decrease"
	case Either:
		return "either"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// MarshalText makes directions read as their names in JSON.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Metric is one thing the judge looks at.
type Metric struct {
	// Name identifies the metric and keys its Input.
	Name string
	// Kind selects the test: ErrorRate, Latency or Threshold.
	Kind Kind
	// Direction defaults to Increase.
	Direction Direction
	// AllowedEffect is the tolerated relative change (0.25 = 25 %): for
	// error rates, of the error rate itself (relative risk 1.25); for
	// latency, of the Hodges-Lehmann shift over the baseline median.
	AllowedEffect float64
	// Critical: a Fail of this metric fails the whole analysis regardless
	// of the score.
	Critical bool
	// Group collects metrics into a scored group; empty means a group of
	// its own, named after the metric.
	Group string
	// Weight is the weight of the metric's group in the score (Kayenta's
	// group weights). Metrics of one group should carry the same weight;
	// the largest is used. 0 means 1.
	Weight float64
	// MustHaveData turns "no data" from Inconclusive into Fail.
	MustHaveData bool
	// Condition is the expr-lang condition for Threshold metrics, over the
	// variable result (e.g. "result < 0.01").
	Condition string
	// MinSamples is the number of requests (error rates) or samples
	// (latency) each version needs before the metric may Pass. Latency
	// needs it to Fail too; the error-rate test is valid at any size.
	MinSamples int
	// Alpha is the false alarm rate of the comparison; 0 means the
	// Config's, which defaults to 0.01.
	Alpha float64
	// DetectEffect tunes the error-rate test to catch this relative
	// increase (beyond AllowedEffect) fastest; 0 means 1.0, a doubling.
	DetectEffect float64
}

// Validate reports configuration errors the judge would otherwise only find
// while judging: a Threshold without a compilable boolean condition,
// negative effects, samples or weights, an alpha outside (0, 1).
func (m Metric) Validate() error {
	var errs []error
	if m.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if m.Kind < ErrorRate || m.Kind > Threshold {
		errs = append(errs, fmt.Errorf("unknown kind %d", int(m.Kind)))
	}
	if m.Direction < Increase || m.Direction > Either {
		errs = append(errs, fmt.Errorf("unknown direction %d", int(m.Direction)))
	}
	if m.AllowedEffect < 0 || m.DetectEffect < 0 || m.Weight < 0 || m.MinSamples < 0 {
		errs = append(errs, errors.New("allowedEffect, detectEffect, weight and minSamples must not be negative"))
	}
	if m.Alpha < 0 || m.Alpha >= 1 {
		errs = append(errs, fmt.Errorf("alpha %v is outside (0, 1)", m.Alpha))
	}
	if m.Kind == Threshold {
		if m.Condition == "" {
			errs = append(errs, errors.New("a threshold metric needs a condition"))
		} else if _, err := compileCondition(m.Condition); err != nil {
			errs = append(errs, fmt.Errorf("condition: %w", err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("metric %q: %w", m.Name, errors.Join(errs...))
}

// Input is what the providers measured for one metric over the analysed
// window: counts for ErrorRate, raw samples for Latency, a single value for
// Threshold. A provider that failed sets Err and nothing else.
type Input struct {
	// Query is the query as run (after templating), shown in the verdict.
	Query string
	// Error-rate counts per version.
	CanaryErrors, CanaryTotal     int64
	BaselineErrors, BaselineTotal int64
	// Raw per-request samples per version (latency in any unit).
	Canary, Baseline []float64
	// Value is the single measurement a Threshold metric checks; nil
	// means the provider returned no value.
	Value *float64
	// Err is the provider's error, if it failed.
	Err error
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for c := ErrorRate; c <= Threshold; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("judge: unknown metric kind %q (errorRate, latency, threshold)", b)
}

// UnmarshalText reads a direction's name.
func (d *Direction) UnmarshalText(b []byte) error {
	for c := Increase; c <= Either; c++ {
		if c.String() == string(b) {
			*d = c
			return nil
		}
	}
	return fmt.Errorf("judge: unknown direction %q (increase, decrease, either)", b)
}

// FromSpec converts a metric definition of the Rollout into the judge's
// Metric. internal/spec's validation guarantees the kind and direction names
// parse; a Metric built from an unvalidated definition fails Validate.
func FromSpec(m v1alpha1.MetricSpec) Metric {
	jm := Metric{
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
