package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's ECS example loads.
func TestECSExampleLoads(t *testing.T) {
	rs, err := LoadFile("../../examples/ecs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e := rs[0].Spec.Platform.ECS; e == nil || len(e.TargetGroups) != 2 || rs[0].Spec.Traffic.ELB == nil {
		t.Fatalf("loaded %+v", rs[0].Spec)
	}
}

// Each ECS-specific mistake is refused at its field.
func TestECSValidation(t *testing.T) {
	raw, err := os.ReadFile("../../examples/ecs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := string(raw)
	traffic := base[strings.Index(base, "  traffic:"):strings.Index(base, "  analysis:")]
	for _, tc := range []struct{ from, to, says string }{
		{"service: web ", "service: \"\" ", ".spec.platform.ecs.service: is required"},
		{"- arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-b/fedcba9876543210", "", ".spec.platform.ecs.targetGroups: needs exactly two target group ARNs"},
		{"canaryScale: 25", "canaryScale: 150", ".spec.platform.ecs.canaryScale: 150 must be a percentage"},
		{"image: \"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:{{.Revision}}\"", "image: \"web:{{.Port}}\"", ".spec.platform.ecs.taskDefinition.containers[0].image"},
		{traffic, "", ".spec.platform.ecs: needs traffic.elb"},
		{"  traffic:\n    elb:", "  traffic:\n    router: {}\n    elb:", ".spec.traffic: needs at most one of router, gatewayAPI, replicas, elb; router and elb are set"},
		{"testListeners:", "testRules:", ".spec.traffic.elb.testRules[0]: \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef/2222222222222222\" is not an ELB listener-rule ARN"},
		{"      - setWeight: 50\n", "      - setWeight: 50\n      - setMirror: {name: shadow, percentage: 10}\n", ".spec.strategy.canary.steps[5].setMirror: is not available on ECS"},
		{"cloudwatch: {}  ", "router: {}  ", ".spec.analysis.metrics[0].provider.router: has no data on ECS"},
		{"comparedWith: stable", "comparedWith: baseline", ".spec.analysis.comparedWith: baseline is not available on ECS"},
		{"cloudwatch: {stat: p99}", "cloudwatch: {period: 90s}", ".spec.analysis.metrics[1].provider.cloudwatch.period: 1m30s must be 1s, 5s, 10s, 30s or a multiple of 60s"},
	} {
		text := strings.Replace(base, tc.from, tc.to, 1)
		if text == base {
			t.Fatalf("%q not in the example", tc.from)
		}
		path := filepath.Join(t.TempDir(), "ecs.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(path)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s -> %s: got %v\nwant ...%s...", tc.from, tc.to, err, tc.says)
		}
	}
}
