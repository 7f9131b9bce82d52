package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/testenv/fakeaws"
)

type staticTGs map[string]string

func (s staticTGs) TargetGroupOf(rev string) (string, bool) { a, ok := s[rev]; return a, ok }

// TestCloudWatchFetch: counts per target group are summed over every load
// balancer it belongs to, over the window only; throttling is retried; the
// judge fails a canary whose 5xx rate is far above stable's.
func TestCloudWatchFetch(t *testing.T) {
	w := fakeaws.NewWorld(t)
	stable, canary := w.TargetGroups[0], w.TargetGroups[1]
	lb2 := w.AddLoadBalancer("web-internal")
	w.AttachTargetGroup(canary, lb2)
	start := time.Now().Add(-5 * time.Minute).Truncate(time.Minute)
	at := func(min int) time.Time { return start.Add(time.Duration(min)*time.Minute + time.Second) }
	w.PutMetric(canary, w.LoadBalancer, "RequestCount", at(-1), 1000) // before the window
	for m := 0; m < 3; m++ {
		w.PutMetric(canary, w.LoadBalancer, "RequestCount", at(m), 100)
		w.PutMetric(canary, w.LoadBalancer, "HTTPCode_Target_5XX_Count", at(m), 10)
		w.PutMetric(canary, lb2, "RequestCount", at(m), 50)
		w.PutMetric(canary, lb2, "HTTPCode_Target_5XX_Count", at(m), 5)
		w.PutMetric(stable, w.LoadBalancer, "RequestCount", at(m), 1000)
		w.PutMetric(stable, w.LoadBalancer, "HTTPCode_Target_5XX_Count", at(m), 1)
		w.PutMetric(canary, w.LoadBalancer, "TargetResponseTime", at(m), 0.2)
		w.PutMetric(stable, w.LoadBalancer, "TargetResponseTime", at(m), 0.05)
	}
	tgs := staticTGs{"v1": stable, "v2": canary}
	q := Query{Rollout: "web", Revision: "v2", ComparedWith: "stable", CompareRevision: "v1", Start: start, Now: time.Now()}
	aws := v1alpha1.AWS{Endpoint: w.URL, Region: "us-east-1"}
	metric := func(kind string, cw v1alpha1.CloudWatchMetric) Provider {
		t.Helper()
		p, err := New(v1alpha1.MetricSpec{Name: kind, Kind: kind, Condition: condIf(kind), Provider: v1alpha1.MetricProvider{CloudWatch: &cw}}, Env{TargetGroups: tgs, AWS: aws})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	w.Throttle("GetMetricData", 2)
	er, err := metric("errorRate", v1alpha1.CloudWatchMetric{}).Fetch(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if er.CanaryTotal != 450 || er.CanaryErrors != 45 || er.BaselineTotal != 3000 || er.BaselineErrors != 3 {
		t.Fatalf("error rate input %+v; want canary 45/450 (two load balancers, window only), stable 3/3000", er)
	}
	if !strings.Contains(er.Query, "targetgroup/web-b/") || !strings.Contains(er.Query, "vs stable v1 (targetgroup/web-a/") {
		t.Fatalf("query %q does not name the target groups", er.Query)
	}
	lat, err := metric("latency", v1alpha1.CloudWatchMetric{}).Fetch(context.Background(), q)
	if err != nil || len(lat.Canary) != 3 || lat.Canary[0] != 200 || len(lat.Baseline) != 3 || lat.Baseline[0] != 50 {
		t.Fatalf("latency input %+v, %v; want 3 per-period samples each, in ms", lat, err)
	}
	th, err := metric("threshold", v1alpha1.CloudWatchMetric{Measure: "errorRate"}).Fetch(context.Background(), q)
	if err != nil || th.Value == nil || *th.Value != 0.1 {
		t.Fatalf("threshold input %+v, %v", th, err)
	}

	ms := []judge.Metric{{Name: "errorRate", Kind: judge.ErrorRate, MinSamples: 100}}
	rep := judge.Judge(ms, map[string]judge.Input{"errorRate": er}, judge.Config{ComparedWith: "stable", Look: 1})
	if rep.Verdict != judge.Fail {
		t.Fatalf("10%% of 5xx against 0.1%%: %s (%s)", rep.Verdict, rep.Reason)
	}

	// A revision in no target group is an error, which the judge makes
	// Inconclusive: no data is never a pass.
	_, err = metric("errorRate", v1alpha1.CloudWatchMetric{}).Fetch(context.Background(), Query{Revision: "v9", CompareRevision: "v1", Start: start, Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "revision v9 is in no target group") {
		t.Fatalf("unknown revision: %v", err)
	}
}

func condIf(kind string) string {
	if kind == "threshold" {
		return "result < 0.05"
	}
	return ""
}
