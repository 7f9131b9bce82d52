package platform

import (
	"context"
	"strings"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func TestStatic(t *testing.T) {
	s := NewStatic(v1alpha1.StaticPlatform{Revisions: map[string][]string{
		"v1": {"http://10.0.0.1:8080/", "http://10.0.0.2:8080"},
		"v2": {"http://10.0.0.3:8080"},
	}})
	if len(s.Capabilities()) != 0 || Has(s, CanStart) || Has(s, CanStop) {
		t.Fatalf("static declares %v", s.Capabilities())
	}
	ctx := context.Background()
	if err := s.Ensure(ctx, Instance{Rollout: "web", Revision: "v1"}); err != nil {
		t.Fatal(err)
	}
	err := s.Ensure(ctx, Instance{Rollout: "web", Revision: "v9"})
	if err == nil || !strings.Contains(err.Error(), `"v9"`) || !strings.Contains(err.Error(), "v1, v2") {
		t.Errorf("unknown revision: %v", err)
	}
	if err := s.Ensure(ctx, Instance{Rollout: "web", Revision: "v1", Baseline: true}); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("baseline: %v", err)
	}
	st, ok := s.State(Instance{Rollout: "web", Revision: "v1"})
	if !ok || !st.Ready || strings.Join(st.Endpoints, " ") != "http://10.0.0.1:8080 http://10.0.0.2:8080" {
		t.Errorf("State(v1) = %+v, %v", st, ok)
	}
	// The returned slice is a copy: a caller cannot change the config.
	st.Endpoints[0] = "x"
	if again, _ := s.State(Instance{Revision: "v1"}); again.Endpoints[0] == "x" {
		t.Error("State shares its endpoints slice")
	}
	if _, ok := s.State(Instance{Revision: "v9"}); ok {
		t.Error("unknown revision reported")
	}
	if _, ok := s.State(Instance{Revision: "v1", Baseline: true}); ok {
		t.Error("baseline copy reported")
	}
	if s.Stop(ctx, Instance{Revision: "v1"}) != nil || s.Close(ctx) != nil {
		t.Error("Stop/Close failed")
	}
}
