package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// maxWebBody bounds what a web metric reads: one number does not need more.
const maxWebBody = 1 << 20

// Web GETs a JSON document (URL templated like a Prometheus query) and
// reads one number at a path. It feeds threshold metrics.
type Web struct {
	cfg    v1alpha1.WebMetric
	path   spec.JSONPath
	client *http.Client
}

// NewWeb returns the provider for one endpoint.
func NewWeb(cfg v1alpha1.WebMetric) (*Web, error) {
	p, err := spec.ParseJSONPath(cfg.JSONPath)
	if err != nil {
		return nil, fmt.Errorf("jsonPath: %w", err)
	}
	timeout := cfg.Timeout.D()
	if timeout <= 0 {
		timeout = v1alpha1.DefaultRemoteTimeout
	}
	return &Web{cfg: cfg, path: p, client: &http.Client{Timeout: timeout}}, nil
}

// Capabilities: one value per request, so thresholds only; the request goes
// over the network.
func (w *Web) Capabilities() Capabilities {
	return Capabilities{Kinds: []judge.Kind{judge.Threshold}, Remote: true}
}

// Fetch GETs the URL. A non-2xx answer, a body that is not JSON, or a path
// that does not lead to a number is an error; JSON null is no data.
func (w *Web) Fetch(ctx context.Context, q Query) (judge.Input, error) {
	u, err := spec.RenderTemplate("url", w.cfg.URL, templateData(q))
	in := judge.Input{Query: "GET " + u + " " + w.cfg.JSONPath}
	if err != nil {
		return in, fmt.Errorf("url template: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return in, err
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return in, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWebBody))
	if err != nil {
		return in, err
	}
	if resp.StatusCode/100 != 2 {
		return in, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	v, ok, err := lookupNumber(body, w.path)
	if err != nil {
		return in, fmt.Errorf("GET %s: %w", u, err)
	}
	if ok {
		in.Value = &v
	}
	return in, nil
}

// lookupNumber walks p in a JSON document; a number or a numeric string
// is the value, null is no value.
func lookupNumber(body []byte, p spec.JSONPath) (float64, bool, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, false, fmt.Errorf("body is not JSON: %w", err)
	}
	cur := doc
	for _, el := range p {
		switch k := el.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return 0, false, fmt.Errorf("%q: not an object", k)
			}
			if cur, ok = m[k]; !ok {
				return 0, false, fmt.Errorf("no key %q", k)
			}
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return 0, false, fmt.Errorf("[%d]: not an array of that length", k)
			}
			cur = a[k]
		}
	}
	switch v := cur.(type) {
	case nil:
		return 0, false, nil
	case float64:
		return v, true, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false, fmt.Errorf("value %q is not a number", v)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("value is a %T, not a number", cur)
}
