package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router"
)

// perRouter is how many requests the test forces to each version through
// each router replica during an analysis; minSamples is above it, so an
// analysis step reaches it only with the samples of both replicas merged.
const (
	perRouter  = 200
	minSamples = 300
)

// TestClusterAnalysis runs analysis in the cluster through kanaria's router
// with real requests: `kanaria controller` merges the samples of the two
// `kanaria router --kubernetes` replicas (each publishes its admin API in
// its Lease; the token is the shared Secret's). A good canary passes its
// analysis step, which needs more canary requests than either replica
// served, and is promoted; a bad canary (every other request answers 500)
// fails its analysis and is aborted without anyone asking.
func TestClusterAnalysis(t *testing.T) {
	c := newCluster(t)
	c.createTarget()
	c.createRolloutWith(api.Strategy{Canary: &api.CanaryStrategy{
		Baseline: true,
		Analysis: &api.BackgroundAnalysis{Metrics: []api.MetricRef{{Name: "errors"}}},
		Steps: []api.Step{
			{SetWeight: ptr.To(api.Weight(200_000))}, // 20 %
			{Analysis: &api.AnalysisStep{Duration: api.Duration(2 * time.Second), MinSamples: minSamples}},
		},
	}}, &api.AnalysisSpec{Metrics: []api.MetricSpec{{
		Name: "errors", Kind: "errorRate", Critical: true, MinSamples: 100,
		Provider: api.MetricProvider{Router: &api.RouterMetric{}},
	}}})
	c.startController()
	c.startRouter("r1")
	c.startRouter("r2")
	c.waitStatus("initialized", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseHealthy && st.StableRevision == "v1"
	})
	c.waitServes(c.routers[0], "v1")
	c.waitServes(c.routers[1], "v1")

	// A good canary: no errors on either side.
	c.patch(`{"spec":{"revision":"v2"}}`)
	// Forced requests go to the baseline only once the routers route to
	// it: the weights read back.
	c.waitStatus("at the analysis step of v2, its weights read back", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseProgressing && st.CanaryRevision == "v2" && st.StepIndex == 1 &&
			st.ObservedWeights != nil && st.ObservedWeights.BaselinePPM == 200_000
	})
	// The baseline's requests first: the step ends as soon as it has
	// seen minSamples canary requests, and by then it has all of these.
	for _, v := range []string{"baseline", "canary"} {
		for i, r := range c.routers {
			if st := c.force(r, v, perRouter); st[http.StatusOK] != perRouter {
				t.Fatalf("%d requests forced to the %s through %s: statuses %v", perRouter, v, r, st)
			}
			if n, rev := c.samples(t, i, v); n < perRouter {
				t.Fatalf("router %s's admin API has %d samples of the %s (%s), want at least %d", r, n, v, rev, perRouter)
			}
		}
	}
	c.waitStatus("v2 passed its analysis and is the stable revision", 120*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseHealthy && st.StableRevision == "v2"
	})
	passed := c.event(t, "AnalysisPassed")
	canary, baseline := requestCounts(t, passed)
	t.Logf("AnalysisPassed: %s", passed)
	if canary < minSamples || canary > 2*perRouter || baseline != 2*perRouter {
		t.Fatalf("the analysis judged %d canary and %d baseline requests; want %d to %d canary (more than one replica served) and all %d baseline", canary, baseline, minSamples, 2*perRouter, 2*perRouter)
	}
	if !strings.Contains(passed, "errors Pass") {
		t.Fatalf("AnalysisPassed does not say the metric passed: %s", passed)
	}

	// A bad canary: the background analysis sees half its requests fail
	// and the release aborts on its own.
	c.waitServes(c.routers[0], "v2")
	c.patch(`{"spec":{"revision":"v3"}}`)
	c.waitStatus("v3 ready at 20 %", 60*time.Second, func(st api.RolloutStatus) bool {
		return st.CanaryRevision == "v3" && st.CanaryReady && st.ObservedWeights != nil &&
			st.ObservedWeights.CanaryPPM == 200_000 && st.ObservedWeights.BaselinePPM == 200_000
	})
	for _, r := range c.routers {
		for _, v := range []string{"canary", "baseline"} {
			c.force(r, v, perRouter)
		}
	}
	c.waitStatus("v3 aborted by its analysis, 0 % read back", 120*time.Second, func(st api.RolloutStatus) bool {
		return st.Phase == api.PhaseAborted && st.ObservedWeights != nil && st.ObservedWeights.CanaryPPM == 0
	})
	failed := c.event(t, "AnalysisFailed")
	t.Logf("AnalysisFailed: %s", failed)
	if !strings.Contains(failed, "errors Fail") || !strings.Contains(failed, "v3") {
		t.Fatalf("AnalysisFailed does not say the canary's errors failed: %s", failed)
	}
	// Users are back on the stable revision through both replicas.
	for _, r := range c.routers {
		c.waitServes(r, "v2")
		if st := c.force(r, "canary", 50); st[http.StatusOK] != 50 {
			t.Fatalf("after the abort, requests asking for the canary through %s: %v, want all answered by stable", r, st)
		}
	}
}

// samples reads how many samples of version the i-th router's admin API
// keeps, with the token of the Secret the replicas created.
func (c *cluster) samples(t *testing.T, i int, version string) (int, string) {
	t.Helper()
	var sec corev1.Secret
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: "kanaria-system", Name: "kanaria-router-admin"}, &sec); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+c.admins[i]+"/v1/releases/shop.web/samples?version="+version, nil)
	req.Header.Set("Authorization", "Bearer "+string(sec.Data["token"]))
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v router.SamplesView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("samples of %s: %s %v", version, resp.Status, err)
	}
	return len(v.Samples), v.Revision
}

// force sends n requests through a router with an override to version
// (each a different user) and counts the answers' statuses.
func (c *cluster) force(router, version string, n int) map[int]int {
	out := map[int]int{}
	for i := range n {
		req, _ := http.NewRequest("GET", "http://"+router+"/", nil)
		req.Header.Set("X-User-Id", fmt.Sprintf("forced-%s-%d", version, i))
		req.Header.Set("X-Kanaria-Override", version)
		resp, err := c.http.Do(req)
		if err != nil {
			out[0]++
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		out[resp.StatusCode]++
	}
	return out
}

// event returns the message of the Rollout's latest Event with reason.
func (c *cluster) event(t *testing.T, reason string) string {
	t.Helper()
	var list corev1.EventList
	if err := c.env.Client.List(context.Background(), &list, client.InNamespace(c.ns)); err != nil {
		t.Fatal(err)
	}
	msg, at := "", time.Time{}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == "web" && e.Reason == reason && !e.EventTime.Time.Before(at) {
			msg, at = e.Message, e.EventTime.Time
		}
	}
	if msg == "" {
		t.Fatalf("no %s Event on the Rollout", reason)
	}
	return msg
}

var countsRE = regexp.MustCompile(`(\d+) canary / (\d+) baseline requests`)

// requestCounts reads the request counts an analysis summary states.
func requestCounts(t *testing.T, summary string) (canary, baseline int) {
	t.Helper()
	m := countsRE.FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("no request counts in %q", summary)
	}
	canary, _ = strconv.Atoi(m[1])
	baseline, _ = strconv.Atoi(m[2])
	return canary, baseline
}
