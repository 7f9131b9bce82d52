package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHeaderRouteEndToEnd runs `kanaria up` with a setHeaderRoute step:
// real requests through the router with the header reach the canary at a
// 1 % weight, without it only the weight's share does; status shows the
// route; promotion clears it.
func TestHeaderRouteEndToEnd(t *testing.T) {
	e := newEnv(t, specWithSteps(`        - setWeight: 1
        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
        - pause: {}`))
	e.startUp()
	e.waitFor("v1 healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })
	e.must("start", "v2")
	e.waitFor("paused with the route", func(s status) bool { return s.Status.Phase == "Paused" })

	canary := 0
	for i := 0; i < 100; i++ {
		if resp, _ := e.get("X-Beta", "1"); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("request %d with X-Beta: 1 served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
		if resp, _ := e.get("X-Beta", "2"); resp.Header.Get("X-Kanaria-Version") == "v2" {
			canary++
		}
	}
	// Each request without the header is a new user: 1 % of them at most,
	// give or take; 20 of 100 would mean the route matched.
	if canary > 10 {
		t.Errorf("%d of 100 requests without the header reached the canary at 1 %%", canary)
	}

	var st struct {
		Status struct {
			HeaderRoutes []struct {
				Name  string `json:"name"`
				Match []struct {
					HeaderName  string            `json:"headerName"`
					HeaderValue map[string]string `json:"headerValue"`
				} `json:"match"`
			} `json:"headerRoutes"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(e.must("status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if hr := st.Status.HeaderRoutes; len(hr) != 1 || hr[0].Name != "beta" || hr[0].Match[0].HeaderName != "X-Beta" || hr[0].Match[0].HeaderValue["exact"] != "1" {
		t.Fatalf("status.headerRoutes: %+v", hr)
	}
	if out := e.must("status"); !strings.Contains(out, `header routes:  beta (X-Beta exact "1")`) {
		t.Errorf("status does not show the route:\n%s", out)
	}

	e.must("promote")
	e.waitFor("v2 stable", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })
	if out := e.must("status"); strings.Contains(out, "header routes") {
		t.Errorf("status after promotion still shows a route:\n%s", out)
	}
	e.must("start", "v3")
	e.waitFor("v3 paused", func(s status) bool { return s.Status.Phase == "Paused" && s.Status.CanaryRevision == "v3" })
	e.must("abort")
	e.waitFor("aborted", func(s status) bool { return s.Status.Phase == "Aborted" })
	for i := 0; i < 20; i++ {
		if resp, _ := e.get("X-Beta", "1"); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("after the abort X-Beta: 1 reached %q", resp.Header.Get("X-Kanaria-Version"))
		}
	}
}
