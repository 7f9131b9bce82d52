package spec

import (
	"strings"
	"testing"
)

const kube = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform:
    kubernetes:
      workloadRef: {name: web}
      containers:
        - name: web
          image: "ghcr.io/acme/web:{{.Revision}}"
          env: [{name: REVISION, value: "{{.Revision}}"}]
      canaryReplicas: 2
  traffic:
    gatewayAPI: {httpRoutes: [web]}
  strategy:
    canary:
      baseline: true
      steps: [{setWeight: 0.1}]
`

func TestKubernetesPlatformLoads(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(kube))
	if err != nil {
		t.Fatal(err)
	}
	k := rs[0].Spec.Platform.Kubernetes
	if k == nil || k.WorkloadRef.Name != "web" || len(k.Containers) != 1 || *k.CanaryReplicas != 2 {
		t.Fatalf("kubernetes platform read as %+v", k)
	}
	if g := rs[0].Spec.Traffic.GatewayAPI; g == nil || g.HTTPRoutes[0] != "web" {
		t.Fatalf("traffic read as %+v", rs[0].Spec.Traffic)
	}
}

func TestKubernetesPlatformErrors(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"no target", "workloadRef: {name: web}", "workloadRef: {name: \"\"}",
			"k.yaml:8:21: rollouts[0].spec.platform.kubernetes.workloadRef.name: is required"},
		{"kind", "workloadRef: {name: web}", "workloadRef: {name: web, kind: StatefulSet}",
			"k.yaml:8:32: rollouts[0].spec.platform.kubernetes.workloadRef.kind: \"StatefulSet\" is not supported: only Deployment"},
		{"image template", `"ghcr.io/acme/web:{{.Revision}}"`, `"ghcr.io/acme/web:{{.Rev}}"`,
			"k.yaml:11:11: rollouts[0].spec.platform.kubernetes.containers[0].image: is not a template that renders with only .Revision"},
		{"env name", "name: REVISION", "name: 1REV",
			"k.yaml:12:18: rollouts[0].spec.platform.kubernetes.containers[0].env[0].name: \"1REV\" is not a valid environment variable name"},
		{"negative replicas", "canaryReplicas: 2", "canaryReplicas: -1",
			"k.yaml:13:7: rollouts[0].spec.platform.kubernetes.canaryReplicas: -1 is negative"},
		{"no routes", "gatewayAPI: {httpRoutes: [web]}", "gatewayAPI: {httpRoutes: []}",
			"k.yaml:15:18: rollouts[0].spec.traffic.gatewayAPI.httpRoutes: needs at least one HTTPRoute name"},
		{"two providers", "gatewayAPI: {httpRoutes: [web]}", "{gatewayAPI: {httpRoutes: [web]}, replicas: {}}",
			"k.yaml:14:3: rollouts[0].spec.traffic: needs at most one of router, gatewayAPI, replicas, elb; gatewayAPI and replicas are set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(kube, c.from, c.to, 1)
			if c.name == "two providers" {
				src = strings.Replace(kube, "  traffic:\n    "+c.from, "  traffic: "+c.to, 1)
			}
			_, err := Parse("k.yaml", []byte(src))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got  %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestClusterTrafficNeedsKubernetes(t *testing.T) {
	src := strings.Replace(good, "  strategy:", "  traffic: {replicas: {}}\n  strategy:", 1)
	_, err := Parse("k.yaml", []byte(src))
	want := "k.yaml:10:13: rollouts[0].spec.traffic.replicas: needs platform.kubernetes"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestPausedNeedsKubernetes: spec.paused is the cluster's pause; in a
// kanaria.yaml it would do nothing, so it is refused where it is written.
func TestPausedNeedsKubernetes(t *testing.T) {
	src := strings.Replace(good, "  strategy:", "  paused: true\n  strategy:", 1)
	_, err := Parse("k.yaml", []byte(src))
	want := "rollouts[0].spec.paused: is read only in a cluster"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if _, err := Parse("k.yaml", []byte(strings.Replace(kube, "  strategy:", "  paused: true\n  strategy:", 1))); err != nil {
		t.Fatalf("paused with platform.kubernetes: %v", err)
	}
}
