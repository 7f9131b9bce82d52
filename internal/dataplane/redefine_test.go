package dataplane

import (
	"context"
	"reflect"
	"testing"

	"github.com/kanaria-dev/kanaria/internal/platform"
)

// TestRedefineKeepsRunningInstances: a control plane restarting with an
// edited spec redefines the platform; the instances already running keep
// running (a live stable is never restarted by a spec edit), new ones use
// the new spec, and Stop reaches both.
func TestRedefineKeepsRunningInstances(t *testing.T) {
	c := startDataPlane(t, stateDir(t))
	ctx := context.Background()
	pf, err := c.Platform("shop", demoSpec())
	if err != nil {
		t.Fatal(err)
	}
	v1 := platform.Instance{Rollout: "shop", Revision: "v1"}
	v2 := platform.Instance{Rollout: "shop", Revision: "v2"}
	if err := pf.Ensure(ctx, v1); err != nil {
		t.Fatal(err)
	}
	s1 := waitState(t, pf, v1, "ready", ready)

	edited := demoSpec()
	edited.Local.Env = map[string]string{"EDITED": "yes"}
	pf2, err := c.Platform("shop", edited)
	if err != nil {
		t.Fatal(err)
	}
	if err := pf2.Ensure(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if st, ok := pf2.State(v1); !ok || !st.Ready || !reflect.DeepEqual(st.Endpoints, s1.Endpoints) {
		t.Fatalf("v1 after redefinition: %+v %v, want still %v", st, ok, s1.Endpoints)
	}
	if err := pf2.Ensure(ctx, v2); err != nil {
		t.Fatal(err)
	}
	s2 := waitState(t, pf2, v2, "ready", ready)

	if err := pf2.Stop(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if !refuses(s1.Endpoints[0]) {
		t.Fatal("v1 (old definition) still answers after Stop")
	}
	if _, ok := pf2.State(v1); ok {
		t.Fatal("v1 still known after Stop")
	}
	if st, ok := pf2.State(v2); !ok || !st.Ready || !reflect.DeepEqual(st.Endpoints, s2.Endpoints) {
		t.Fatalf("v2 after stopping v1: %+v %v", st, ok)
	}
}
