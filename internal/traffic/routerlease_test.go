package traffic

import (
	"reflect"
	"strings"
	"testing"
)

// TestRouterReportRoundTrip: what a router replica writes is what the router
// provider reads, weights exact to the ppm.
func TestRouterReportRoundTrip(t *testing.T) {
	in := RouterReport{
		AdminURL: "http://10.0.0.7:9901",
		Rollouts: map[string]AppliedTraffic{
			RolloutKey("shop", "web"): {
				Generation: 7, StableRevision: "v1", CanaryRevision: "v2", BaselineRevision: "v1",
				Canary: 1000, Baseline: 1000, Endpoints: map[string]int{"stable": 3, "canary": 1, "baseline": 1},
			},
		},
	}
	s, err := MarshalRouterReport(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `"shop/web"`) || !strings.Contains(s, `"canary":0.1`) {
		t.Errorf("annotation %s: want the rollout key and the canary weight as 0.1 (percent)", s)
	}
	out, err := ParseRouterReport(map[string]string{RouterReportAnnotation: s})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
	if RouterLeaseName("router-0") != "kanaria-router-router-0" {
		t.Errorf("lease name %q", RouterLeaseName("router-0"))
	}
}

// TestParseRouterReportRefuses: a report that no router could have applied
// is an error, not weights.
func TestParseRouterReportRefuses(t *testing.T) {
	empty, err := ParseRouterReport(nil)
	if err != nil || empty.Rollouts == nil || len(empty.Rollouts) != 0 {
		t.Errorf("no annotation: %+v, %v; want an empty report", empty, err)
	}
	for in, want := range map[string]string{
		`{"rollouts":{"a/b":{"canary":101}}}`:              "a/b: canary weight 101 is above 100%",
		`{"rollouts":{"a/b":{"canary":60,"baseline":50}}}`: "a/b: canary 60% and baseline 50% exceed 100%",
		`{"rollouts":{"a/b":{"canary":"10"}}}`:             "weight must be a number",
		`not json`:                                         "annotation kanaria.dev/router-report",
	} {
		_, err := ParseRouterReport(map[string]string{RouterReportAnnotation: in})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", in, err, want)
		}
	}
}
