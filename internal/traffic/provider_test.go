package traffic

import (
	"strings"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// svcURL is a Kubernetes platform endpoint.
func svcURL(name, ns string) string { return "http://" + name + "." + ns + ".svc:8080" }

// release is an assignment of rollout web in ns with the three Services.
func release(ns string, canary, baseline v1alpha1.Weight) Assignment {
	a := Assignment{
		Namespace: ns, Rollout: "web",
		Stable:  Backend{Revision: "v1", Endpoints: []string{svcURL("web-stable", ns)}},
		Canary:  &Backend{Revision: "v2", Endpoints: []string{svcURL("web-canary", ns)}},
		Weights: v1alpha1.Weights{CanaryPPM: canary, BaselinePPM: baseline},
	}
	if baseline > 0 {
		a.Baseline = &Backend{Revision: "v1", Endpoints: []string{svcURL("web-baseline", ns)}}
	}
	return a
}

// TestParseServiceURL: Kubernetes platform endpoints name a Service; any
// other URL is refused rather than guessed at.
func TestParseServiceURL(t *testing.T) {
	for in, want := range map[string]ServiceRef{
		"http://web-canary.shop.svc:8080":               {Name: "web-canary", Namespace: "shop", Port: 8080},
		"http://web-stable.shop.svc.cluster.local:9000": {Name: "web-stable", Namespace: "shop", Port: 9000},
		"http://web.shop.svc":                           {Name: "web", Namespace: "shop", Port: 80},
		"http://web.shop.svc:8080/":                     {Name: "web", Namespace: "shop", Port: 8080},
	} {
		got, err := ParseServiceURL(in)
		if err != nil || got != want {
			t.Errorf("ParseServiceURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"http://198.18.0.1:8080", "https://web.shop.svc:443", "http://web.shop:80",
		"http://web.shop.svc:0", "http://web.shop.svc:8080/api", "http://.shop.svc:80", "::",
	} {
		if got, err := ParseServiceURL(in); err == nil {
			t.Errorf("ParseServiceURL(%q) = %+v, want an error", in, got)
		}
	}
}

// TestAssignmentValidate: what no provider could carry out is refused
// before anything is written, with the reason.
func TestAssignmentValidate(t *testing.T) {
	ok := release("shop", 1000, 1000)
	if err := ok.Validate(); err != nil {
		t.Errorf("valid assignment refused: %v", err)
	}
	for want, mutate := range map[string]func(a *Assignment){
		"without a namespace":                   func(a *Assignment) { a.Namespace = "" },
		`stable revision "v1" has no endpoints`: func(a *Assignment) { a.Stable.Endpoints = nil },
		`canary revision "v2" has no endpoints`: func(a *Assignment) { a.Canary.Endpoints = nil },
		"canary weight 100.0001 is above 100%":  func(a *Assignment) { a.Weights.CanaryPPM = 1_000_001 },
		"canary 50% and baseline 50.0001% exceed 100%": func(a *Assignment) {
			a.Weights.CanaryPPM, a.Weights.BaselinePPM = 500000, 500001
		},
		"baseline weight 0.1% but no baseline": func(a *Assignment) { a.Baseline = nil },
		"canary weight 0.1% but no canary":     func(a *Assignment) { a.Canary, a.Baseline = nil, nil; a.Weights.BaselinePPM = 0 },
	} {
		a := release("shop", 1000, 1000)
		c, b := *a.Canary, *a.Baseline
		a.Canary, a.Baseline = &c, &b
		mutate(&a)
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
}
