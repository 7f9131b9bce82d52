package provider

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// Router measures a metric from kanaria's own per-request samples, as
// accumulated in a Source since the analysis began. It needs nothing else
// installed.
type Router struct {
	cfg  v1alpha1.RouterMetric
	kind judge.Kind
	src  Source
}

// NewRouter returns the router provider for one metric of the given kind.
func NewRouter(cfg v1alpha1.RouterMetric, kind judge.Kind, src Source) *Router {
	return &Router{cfg: cfg, kind: kind, src: src}
}

// Capabilities: the router has per-request data, so it can feed every kind;
// it reads the Source in memory (not Remote).
func (r *Router) Capabilities() Capabilities {
	return Capabilities{Kinds: []judge.Kind{judge.ErrorRate, judge.Latency, judge.Threshold}}
}

func (r *Router) measure() string {
	if r.cfg.Measure != "" {
		return r.cfg.Measure
	}
	return r.kind.String()
}

func (r *Router) isError(status int) bool { return spec.ErrorStatus(r.cfg.Statuses, status) }

// Fetch reads the window. For comparisons both versions must have data;
// a missing version is "no data" (zero counts), which the judge makes
// Inconclusive rather than a pass.
func (r *Router) Fetch(ctx context.Context, q Query) (judge.Input, error) {
	in := judge.Input{Query: r.describe(q)}
	canary, ok := r.src.Snapshot("canary")
	if ok && canary.Revision != q.Revision {
		return in, fmt.Errorf("router data is of revision %s, not the canary %s", canary.Revision, q.Revision)
	}
	if r.kind == judge.Threshold {
		return r.threshold(in, canary, q)
	}
	other, _ := r.src.Snapshot(q.ComparedWith)
	switch r.kind {
	case judge.ErrorRate:
		in.CanaryErrors, in.CanaryTotal = canary.Errors(r.isError), canary.Total
		in.BaselineErrors, in.BaselineTotal = other.Errors(r.isError), other.Total
	case judge.Latency:
		in.Canary, in.Baseline = canary.Latencies, other.Latencies
	}
	return in, nil
}

func (r *Router) threshold(in judge.Input, canary VersionData, q Query) (judge.Input, error) {
	var v float64
	switch r.measure() {
	case "errorRate":
		if canary.Total == 0 {
			return in, nil // no value: no data
		}
		v = float64(canary.Errors(r.isError)) / float64(canary.Total)
	case "latency":
		if len(canary.Latencies) == 0 {
			return in, nil
		}
		v = quantile(canary.Latencies, r.quantile())
	case "mirrorDifference":
		ds, ok := r.src.(DiffSource)
		if !ok {
			return in, errors.New("this router data source keeps no comparison of mirrored answers")
		}
		rate, n, ok := ds.MirrorDifference()
		if !ok || n == 0 {
			return in, nil // nothing compared: no data
		}
		v = rate
	case "requestRate":
		secs := q.Now.Sub(q.Start).Seconds()
		if secs <= 0 {
			return in, nil
		}
		v = float64(canary.Total) / secs
	default:
		return in, errors.New("unknown measure " + r.measure())
	}
	in.Value = &v
	return in, nil
}

func (r *Router) quantile() float64 {
	if r.cfg.Quantile > 0 {
		return r.cfg.Quantile
	}
	return 0.99
}

// describe is the query as run, for the verdict.
func (r *Router) describe(q Query) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router %s of canary %s", r.measure(), q.Revision)
	if r.kind != judge.Threshold {
		fmt.Fprintf(&b, " vs %s %s", q.ComparedWith, q.CompareRevision)
	}
	switch {
	case r.measure() == "errorRate":
		st := r.cfg.Statuses
		if len(st) == 0 {
			st = []string{"5xx", "connectionFailure"}
		}
		fmt.Fprintf(&b, ", errors: %s", strings.Join(st, " "))
	case r.measure() == "latency" && r.kind == judge.Threshold:
		fmt.Fprintf(&b, ", p%g in ms", r.quantile()*100)
	case r.measure() == "latency":
		b.WriteString(", ms")
	case r.measure() == "mirrorDifference":
		b.WriteString(" (difference rate above noise of mirrored answers)")
	}
	fmt.Fprintf(&b, ", since %s", q.Start.UTC().Format("15:04:05"))
	return b.String()
}

// quantile is the nearest-rank q-quantile: always an observed value.
func quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
