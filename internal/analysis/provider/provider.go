// Package provider answers the judge's questions: for one metric and the
// window of an analysis, what did the canary (and what it is compared with)
// measure? Each provider lives in its own file behind the small Provider
// interface and declares which judge kinds it can feed, so a configuration
// that asks a provider for something it cannot measure is refused by
// validation instead of silently returning nothing.
//
//   - router: kanaria's own per-request samples, accumulated by the control
//     plane into a Window (counts per status, a bounded latency reservoir);
//     error rate, latency and request rate, comparisons and thresholds.
//   - prometheus: an instant PromQL query, templated with the rollout,
//     version and revision; thresholds.
//   - web: an HTTP GET returning JSON and a path to one number; thresholds.
//   - cloudwatch: the ALB's per-target-group metrics (GetMetricData), for
//     rollouts on ECS; error rates, latency (per period) and thresholds.
//
// A provider error never becomes a verdict by itself: the caller puts it in
// judge.Input.Err and the judge makes the metric Inconclusive with it.
package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// Query is what an analysis asks a provider for.
type Query struct {
	// Rollout is the rollout's name; Revision the canary's revision.
	Rollout  string
	Revision string
	// ComparedWith is "baseline" or "stable": the version the canary is
	// compared with, and CompareRevision its revision.
	ComparedWith    string
	CompareRevision string
	// Start is when the analysis began; Now is the end of the window.
	Start, Now time.Time
}

// Capabilities declare what a provider can measure, and how.
type Capabilities struct {
	// Kinds are the judge kinds the provider can feed.
	Kinds []judge.Kind
	// Remote: Fetch asks another server and may block for as long as its
	// timeout, so a caller with a loop to keep (the control plane's tick)
	// runs it beside the loop and feeds the answer in when it comes. A
	// provider that is not Remote answers from memory.
	Remote bool
}

// Supports reports whether the provider can feed kind k.
func (c Capabilities) Supports(k judge.Kind) bool { return slices.Contains(c.Kinds, k) }

// Provider measures one metric.
type Provider interface {
	// Capabilities says which judge kinds Fetch can answer.
	Capabilities() Capabilities
	// Fetch measures the metric over the query's window. Input.Query is
	// set to the query as run, also when an error is returned.
	Fetch(ctx context.Context, q Query) (judge.Input, error)
}

// Env is what providers need beyond their metric's definition.
type Env struct {
	// Router feeds router metrics; nil when the rollout has none.
	Router Source
	// TargetGroups says where each revision runs behind ELB (the ECS
	// platform), for cloudwatch; nil elsewhere.
	TargetGroups TargetGroups
	// AWS is the platform's AWS settings, the default of cloudwatch's.
	AWS v1alpha1.AWS
}

// New builds the provider of one metric definition.
func New(m v1alpha1.MetricSpec, env Env) (Provider, error) {
	src := env.Router
	var p Provider
	switch {
	case m.Provider.Router != nil:
		if src == nil {
			return nil, fmt.Errorf("metric %s: no router data source", m.Name)
		}
		p = NewRouter(*m.Provider.Router, judge.FromSpec(m).Kind, src)
	case m.Provider.Prometheus != nil:
		pr, err := NewPrometheus(*m.Provider.Prometheus)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		p = pr
	case m.Provider.Web != nil:
		w, err := NewWeb(*m.Provider.Web)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		p = w
	case m.Provider.CloudWatch != nil:
		cw, err := NewCloudWatch(*m.Provider.CloudWatch, judge.FromSpec(m).Kind, env.AWS, env.TargetGroups)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		p = cw
	default:
		return nil, fmt.Errorf("metric %s has no provider", m.Name)
	}
	if k := judge.FromSpec(m).Kind; !p.Capabilities().Supports(k) {
		return nil, fmt.Errorf("metric %s: the %s provider cannot measure kind %s", m.Name, m.Provider.Name(), k)
	}
	return p, nil
}

// Fetch runs p and folds an error into the Input, the form the judge takes.
func Fetch(ctx context.Context, p Provider, q Query) judge.Input {
	in, err := p.Fetch(ctx, q)
	if err != nil {
		in.Err = err
	}
	return in
}

func templateData(q Query) spec.TemplateData {
	return spec.TemplateData{Rollout: q.Rollout, Version: "canary", Revision: q.Revision}
}
