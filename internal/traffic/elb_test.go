package traffic

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/fakeaws"
)

func TestELBRatio(t *testing.T) {
	for _, tc := range []struct {
		percent      string
		canary, rest int32
		honoured     v1alpha1.Weight
	}{
		{"0", 0, 1, 0},
		{"100", 1, 0, v1alpha1.PPM},
		{"10", 1, 9, 100_000},
		{"50", 1, 1, 500_000},
		{"33.3333", 1, 2, 333_333},
		{"0.1", 1, 999, 1000},         // the finest share ELB has
		{"0.06", 1, 999, 1000},        // nearer to 0.1 % than to 0
		{"0.05", 0, 1, 0},             // halfway: the smaller pair
		{"12.345", 139, 987, 123_446}, // 4 ppm away
		{"99.95", 1, 0, v1alpha1.PPM},
		{"99.9", 999, 1, 999_000},
	} {
		w, err := v1alpha1.ParseWeight(tc.percent)
		if err != nil {
			t.Fatal(err)
		}
		c, s := ELBRatio(w)
		if c != tc.canary || s != tc.rest || ratioWeight(c, s) != tc.honoured {
			t.Errorf("%s%%: %d:%d = %d ppm; want %d:%d = %d ppm", tc.percent, c, s, ratioWeight(c, s), tc.canary, tc.rest, tc.honoured)
		}
		if c < 0 || c > 999 || s < 0 || s > 999 {
			t.Errorf("%s%%: weights %d:%d outside 0-999", tc.percent, c, s)
		}
	}
	// No ppm weight is more than half the finest share away from what ELB
	// honours (the nearest ratio is at least as near as k:999-k).
	for ppm := v1alpha1.Weight(0); ppm <= v1alpha1.PPM; ppm += 997 {
		c, s := ELBRatio(ppm)
		d := int64(ratioWeight(c, s)) - int64(ppm)
		if d < -501 || d > 501 {
			t.Fatalf("%s: honoured as %d:%d, %d ppm away", ppm, c, s, d)
		}
	}
}

func newTestELB(t *testing.T, w *fakeaws.World, cfg v1alpha1.ELBTraffic) *ELB {
	t.Helper()
	e, err := NewELB(context.Background(), cfg, v1alpha1.AWS{Endpoint: w.URL, Region: "us-east-1"}, w.TargetGroups)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func assign(w *fakeaws.World, stableTG int, canary bool, percent string) Assignment {
	pw, _ := v1alpha1.ParseWeight(percent)
	a := Assignment{Namespace: "default", Rollout: "web", Weights: v1alpha1.Weights{CanaryPPM: pw},
		Stable: Backend{Revision: "v1", Endpoints: []string{w.TargetGroups[stableTG]}}}
	if canary {
		a.Canary = &Backend{Revision: "v2", Endpoints: []string{w.TargetGroups[1-stableTG]}}
	}
	return a
}

func TestELBSetObserve(t *testing.T) {
	w := fakeaws.NewWorld(t)
	cfg := w.Traffic()
	cfg.Stickiness = ptr.To(v1alpha1.Duration(time.Hour))
	e := newTestELB(t, w, cfg)
	ctx := context.Background()
	if err := e.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if _, ok, err := e.Observe(ctx, "", "web"); ok || err != nil {
		t.Fatalf("Observe before any Set: ok %v, %v; the stable side is not known yet", ok, err)
	}
	a, b := w.TargetGroups[0], w.TargetGroups[1]
	if err := e.Set(ctx, assign(w, 0, true, "10")); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{w.Listener, w.Rule} {
		got, sticky := w.Weights(arn)
		if got[a] != 9 || got[b] != 1 || sticky != 3600 {
			t.Fatalf("%s: weights %v, stickiness %ds; want %s 9, %s 1, 3600s", arn, got, sticky, a, b)
		}
	}
	if got, _ := w.Weights(w.TestListener); got[b] != 1 || got[a] != 0 {
		t.Fatalf("test listener %v: want everything on the canary's %s", got, b)
	}
	wt, ok, err := e.Observe(ctx, "", "web")
	if err != nil || !ok || wt.CanaryPPM != 100_000 {
		t.Fatalf("Observe: %v %v %v", wt, ok, err)
	}
	ex, _ := e.Explain(ctx, "", "web")
	for _, want := range []string{"canary 1 : stable 9", "= 10%", "asked 10%", "1:999 = 0.1%", "stickiness 1h0m0s"} {
		if !strings.Contains(ex, want) {
			t.Fatalf("Explain %q lacks %q", ex, want)
		}
	}

	// The same assignment again modifies nothing.
	before := w.CountCalls("ModifyListener") + w.CountCalls("ModifyRule")
	if err := e.Set(ctx, assign(w, 0, true, "10")); err != nil {
		t.Fatal(err)
	}
	if n := w.CountCalls("ModifyListener") + w.CountCalls("ModifyRule"); n != before {
		t.Fatalf("an unchanged assignment made %d modifications", n-before)
	}

	// Eventual consistency: right after a write ELB shows the old weights;
	// Observe reports what it reads, never the weight asked for.
	w.SetStaleReads(w.Listener, 2)
	w.SetStaleReads(w.Rule, 2)
	if err := e.Set(ctx, assign(w, 0, true, "33.3333")); err != nil {
		t.Fatal(err)
	}
	seen := []v1alpha1.Weight{}
	for i := 0; i < 3; i++ {
		wt, ok, err := e.Observe(ctx, "", "web")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			seen = append(seen, wt.CanaryPPM)
		}
	}
	if len(seen) != 3 || seen[0] != 100_000 || seen[1] != 100_000 || seen[2] != 333_333 {
		t.Fatalf("read back %v; want the old 10%% twice, then 33.3333%%", seen)
	}

	// Throttled writes are retried.
	w.Throttle("ModifyListener", 2)
	if err := e.Set(ctx, assign(w, 0, true, "100")); err != nil {
		t.Fatalf("Set through throttling: %v", err)
	}
	if got, _ := w.Weights(w.Listener); got[b] != 1 || got[a] != 0 {
		t.Fatalf("100%%: %v", got)
	}
	// A switch: stable is now on the other target group.
	if err := e.Set(ctx, assign(w, 1, false, "0")); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Weights(w.Rule); got[b] != 1 || got[a] != 0 {
		t.Fatalf("after the switch %v", got)
	}
	if got, _ := w.Weights(w.TestListener); got[b] != 1 || got[a] != 0 {
		t.Fatalf("test listener without a canary %v: want stable's %s", got, b)
	}
	if wt, ok, _ := e.Observe(ctx, "", "web"); !ok || wt.CanaryPPM != 0 {
		t.Fatalf("after the switch: %v %v", wt, ok)
	}
}

// TestELBValidateRefusals: each refusal says what is wrong where, and
// nothing is modified.
func TestELBValidateRefusals(t *testing.T) {
	w := fakeaws.NewWorld(t)
	other := w.AddLoadBalancer("other")
	lone := w.AddTargetGroup("lone", other)
	single := w.AddListener(w.LoadBalancer, map[string]int{w.TargetGroups[0]: 1})
	three := w.AddRule(w.Listener, map[string]int{w.TargetGroups[0]: 1, w.TargetGroups[1]: 0, lone: 0})
	detached := w.AddTargetGroup("detached")
	otherListener := w.AddListener(other, map[string]int{w.TargetGroups[0]: 1, detached: 0})
	for _, tc := range []struct {
		name string
		cfg  v1alpha1.ELBTraffic
		tgs  []string
		says string
	}{
		{"one target group", v1alpha1.ELBTraffic{Listeners: []string{w.Listener, single}}, nil,
			"spec.traffic.elb.listeners[1]: the forward action of elb listener " + single + " carries " + w.TargetGroups[0] + "; it needs exactly the two target groups"},
		{"three target groups", v1alpha1.ELBTraffic{Rules: []string{three}}, nil,
			"spec.traffic.elb.rules[0]: the forward action of elb listener rule " + three + " carries"},
		{"not attached", v1alpha1.ELBTraffic{Listeners: []string{otherListener}}, []string{w.TargetGroups[0], detached},
			"spec.platform.ecs.targetGroups[0]: target group " + w.TargetGroups[0] + " is not attached to load balancer " + other},
		{"no listener", v1alpha1.ELBTraffic{Listeners: []string{w.Listener + "0"}}, nil, "spec.traffic.elb.listeners[0]: elb listener " + w.Listener + "0: operation error Elastic Load Balancing v2: DescribeListeners"},
		{"no target group", v1alpha1.ELBTraffic{Listeners: []string{w.Listener}}, []string{w.TargetGroups[0], w.TargetGroups[1] + "x"}, "TargetGroupNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgs := tc.tgs
			if tgs == nil {
				tgs = w.TargetGroups
			}
			e, err := NewELB(context.Background(), tc.cfg, v1alpha1.AWS{Endpoint: w.URL, Region: "us-east-1"}, tgs)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Validate(context.Background()); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v\nwant ...%s...", err, tc.says)
			}
			if err := e.Set(context.Background(), assign(w, 0, false, "0")); err == nil && tc.name != "not attached" {
				t.Fatalf("Set on an invalid forward action succeeded")
			}
		})
	}
	if n := w.CountCalls("ModifyListener") + w.CountCalls("ModifyRule"); n != 0 {
		t.Fatalf("%d modifications", n)
	}
}
