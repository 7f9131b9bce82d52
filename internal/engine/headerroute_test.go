package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const headerRouteYAML = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform: {local: {command: "app {{.Port}}"}}
  strategy:
    canary:
      steps:
        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
        - setWeight: 1
        - pause: {}
        - setHeaderRoute: {name: staff, match: [{headerName: X-User, headerValue: {prefix: staff-}}]}
        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {regex: "^[12]$"}}]}
        - pause: {duration: 10s}
        - setHeaderRoute: {name: beta}
        - setHeaderRoute: {name: nobody}
        - pause: {}
`

// routeNames renders header routes as their String()s.
func routeNames(hs []v1alpha1.SetHeaderRoute) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.String())
	}
	return out
}

// A walk through the steps: each row's routes are what status.headerRoutes
// must say and what the last SetTraffic carried (the router's table).
func TestHeaderRouteSteps(t *testing.T) {
	const beta1, staff, betaRe = `beta (X-Beta exact "1")`, `staff (X-User prefix "staff-")`, `beta (X-Beta regex "^[12]$")`
	s := newSim(t, load(t, headerRouteYAML))
	rows := []struct {
		name   string
		do     func(s *sim)
		step   int
		routes []string
	}{
		{"start: no route before the canary is ready", func(s *sim) { s.notReady["v2"] = true; s.must(start("v2")) }, 0, nil},
		{"still not ready", tick(time.Second), 0, nil},
		{"ready: beta, then 1 %, then a pause", func(s *sim) { delete(s.notReady, "v2"); s.tick(time.Second) }, 2, []string{beta1}},
		{"promote: staff appended, beta replaced in place", do(promote), 5, []string{betaRe, staff}},
		{"a user's pause keeps the routes", do(pause), 5, []string{betaRe, staff}},
		{"paused for an hour", tick(time.Hour), 5, []string{betaRe, staff}},
		{"resume", do(resume), 5, []string{betaRe, staff}},
		{"pause elapsed: beta removed, removing an absent route changes nothing", tick(10 * time.Second), 8, []string{staff}},
	}
	for i, row := range rows {
		row.do(s)
		if s.st.StepIndex != row.step || !reflect.DeepEqual(routeNames(s.st.HeaderRoutes), row.routes) {
			t.Fatalf("%d %s: step %d routes %q, want step %d routes %q (%s)", i, row.name, s.st.StepIndex, routeNames(s.st.HeaderRoutes), row.step, row.routes, s.st.Message)
		}
		if s.routed == nil || !reflect.DeepEqual(routeNames(s.routed.HeaderRoutes), row.routes) {
			t.Fatalf("%d %s: the router was told %+v, want routes %q", i, row.name, s.routed, row.routes)
		}
	}
	if !strings.Contains(s.eventText(), `step 7/9: setHeaderRoute beta removed`) {
		t.Errorf("events do not say the route was removed: %s", s.eventText())
	}
}

// Every end of a release clears the routes in the same SetTraffic that
// takes the canary out, before anything is stopped.
func TestHeaderRoutesClearedWhenTheReleaseEnds(t *testing.T) {
	for _, c := range []struct {
		name  string
		end   func(s *sim)
		phase v1alpha1.Phase
	}{
		{"abort", do(abort), v1alpha1.PhaseAborted},
		{"stop", do(stop), v1alpha1.PhaseHealthy},
		{"undo", do(undo), v1alpha1.PhaseAborted},
		{"promote --full", do(full), v1alpha1.PhaseHealthy},
		{"failed canary", func(s *sim) { s.failed["v2"] = "crashed"; s.tick(time.Second) }, v1alpha1.PhaseAborted},
		{"failed analysis", func(s *sim) {
			s.bgVerdict = &AnalysisResult{Revision: "v2", Step: -1, Verdict: VerdictFail, Summary: "bad"}
			s.tick(time.Second)
		}, v1alpha1.PhaseAborted},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := load(t, headerRouteYAML)
			if c.name == "failed analysis" {
				r.Spec.Analysis = &v1alpha1.AnalysisSpec{Metrics: []v1alpha1.MetricSpec{{Name: "errors", Kind: "errorRate", Provider: v1alpha1.MetricProvider{Router: &v1alpha1.RouterMetric{}}}}}
				r.Spec.Strategy.Canary.Analysis = &v1alpha1.BackgroundAnalysis{Metrics: []v1alpha1.MetricRef{{Name: "errors"}}}
			}
			s := newSim(t, r)
			s.must(start("v2"))
			s.tick(time.Second)
			if len(s.st.HeaderRoutes) != 1 {
				t.Fatalf("routes before the end: %q", routeNames(s.st.HeaderRoutes))
			}
			c.end(s)
			if s.st.Phase != c.phase || s.st.HeaderRoutes != nil {
				t.Fatalf("phase %s routes %q (%s)", s.st.Phase, routeNames(s.st.HeaderRoutes), s.st.Message)
			}
			i := index(s.last, func(a Action) bool { return a.Kind == ActSetTraffic })
			if i < 0 || len(s.last[i].Traffic.HeaderRoutes) != 0 {
				t.Fatalf("no SetTraffic without routes: %+v", s.last)
			}
			if j := index(s.last, func(a Action) bool { return a.Kind == ActStopVersion && a.Revision == "v2" }); j >= 0 && j < i {
				t.Fatalf("v2 stopped before the routes were cleared: %+v", s.last)
			}
		})
	}
}
