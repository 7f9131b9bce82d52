package fakeaws

import (
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// World is the usual ECS set-up of a test: a fake endpoint with an ALB,
// a listener and a rule forwarding to two target groups (all to the first),
// a test listener, an EXTERNAL service with 4 desired tasks, and a task
// definition family "web" with a container "app".
type World struct {
	*Server
	LoadBalancer, Listener, Rule, TestListener string
	TargetGroups                               []string
	ServiceARN                                 string
}

// NewWorld starts the fake and builds the world; the server stops with the
// test. It also points the SDK's credential chain at static test keys.
func NewWorld(t testing.TB) *World {
	t.Helper()
	Credentials(t)
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w := &World{Server: s}
	w.LoadBalancer = s.AddLoadBalancer("web")
	w.TargetGroups = []string{s.AddTargetGroup("web-a", w.LoadBalancer), s.AddTargetGroup("web-b", w.LoadBalancer)}
	weights := map[string]int{w.TargetGroups[0]: 1, w.TargetGroups[1]: 0}
	w.Listener = s.AddListener(w.LoadBalancer, weights)
	w.Rule = s.AddRule(w.Listener, weights)
	w.TestListener = s.AddListener(w.LoadBalancer, weights)
	w.ServiceARN = s.AddService("prod", "web", "EXTERNAL", 4)
	s.AddTaskDefinition("web", map[string]string{"app": "ghcr.io/acme/web:v0"})
	return w
}

// Credentials sets static keys and a region for the SDK's default chain,
// and keeps it away from the machine's files and instance metadata.
func Credentials(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/kanaria-fakeaws-config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kanaria-fakeaws-credentials")
}

// Platform is the ECS platform spec of the world.
func (w *World) Platform() v1alpha1.ECSPlatform {
	scale := 50.0
	return v1alpha1.ECSPlatform{
		AWS:     v1alpha1.AWS{Endpoint: w.URL, Region: "us-east-1"},
		Cluster: "prod", Service: "web",
		TaskDefinition: v1alpha1.ECSTaskDefinition{From: "web", Containers: []v1alpha1.ContainerTemplate{
			{Name: "app", Image: "ghcr.io/acme/web:{{.Revision}}", Env: []v1alpha1.EnvVar{{Name: "REVISION", Value: "{{.Revision}}"}}}}},
		TargetGroups: w.TargetGroups, ContainerName: "app", ContainerPort: 8080, CanaryScale: &scale,
		PollInterval: v1alpha1.Duration(50 * time.Millisecond),
	}
}

// Traffic is the ELB traffic spec of the world: the listener and the rule,
// and the test listener.
func (w *World) Traffic() v1alpha1.ELBTraffic {
	return v1alpha1.ELBTraffic{Listeners: []string{w.Listener}, Rules: []string{w.Rule}, TestListeners: []string{w.TestListener}}
}
