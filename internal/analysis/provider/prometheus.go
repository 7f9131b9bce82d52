package provider

import (
	"context"
	"fmt"
	"math"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// Prometheus runs an instant PromQL query, templated with .Rollout,
// .Version and .Revision, and takes its one value. It feeds threshold
// metrics: a query returns one number, not the per-request data a
// comparison needs.
type Prometheus struct {
	cfg v1alpha1.PrometheusMetric
	api promv1.API
}

// NewPrometheus returns the provider for one query.
func NewPrometheus(cfg v1alpha1.PrometheusMetric) (*Prometheus, error) {
	c, err := api.NewClient(api.Config{Address: cfg.Address})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	return &Prometheus{cfg: cfg, api: promv1.NewAPI(c)}, nil
}

// Capabilities: one value per query, so thresholds only; a query goes to
// the Prometheus server.
func (p *Prometheus) Capabilities() Capabilities {
	return Capabilities{Kinds: []judge.Kind{judge.Threshold}, Remote: true}
}

// Fetch runs the query at q.Now. An empty result is no data (no Value);
// more than one series is an error, because the threshold would otherwise
// depend on which series came first.
func (p *Prometheus) Fetch(ctx context.Context, q Query) (judge.Input, error) {
	query, err := spec.RenderTemplate("query", p.cfg.Query, templateData(q))
	in := judge.Input{Query: query}
	if err != nil {
		return in, fmt.Errorf("query template: %w", err)
	}
	timeout := p.cfg.Timeout.D()
	if timeout <= 0 {
		timeout = v1alpha1.DefaultRemoteTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	val, _, _, err := p.api.Query(ctx, query, q.Now, promv1.WithTimeout(timeout))
	if err != nil {
		return in, fmt.Errorf("prometheus %s: %w", p.cfg.Address, err)
	}
	v, ok, err := oneValue(val)
	if err != nil || !ok {
		return in, err
	}
	in.Value = &v
	return in, nil
}

// oneValue takes the single number of a query result; ok is false for an
// empty result or NaN (no data).
func oneValue(val model.Value) (float64, bool, error) {
	var f float64
	switch v := val.(type) {
	case *model.Scalar:
		f = float64(v.Value)
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, false, nil
		case 1:
			f = float64(v[0].Value)
		default:
			return 0, false, fmt.Errorf("query returned %d series; aggregate it to one (sum, max, ...)", len(v))
		}
	default:
		return 0, false, fmt.Errorf("query returned a %s; want an instant vector or a scalar", val.Type())
	}
	if math.IsNaN(f) {
		return 0, false, nil
	}
	return f, true, nil
}
