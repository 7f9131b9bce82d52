package platform

import (
	"context"
	"reflect"
	"testing"

	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
)

// TestKubernetesRunning: Running lists what runs for the rollout through a
// release and a promotion in place, once each, so the controller can stop
// whatever its status no longer names. No kubelet runs: rolledOut writes a
// Deployment's status in its stead.
func TestKubernetesRunning(t *testing.T) {
	env := kube.Start(t, kube.Options{CRDDirs: []string{kube.KanariaCRDs(t)}})
	f := newFixture(t, env.Client)
	running := func(want ...Instance) {
		t.Helper()
		got, err := f.p.Running(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Running: %+v, want %+v", got, want)
		}
	}
	v := func(rev string, baseline bool) Instance {
		return Instance{Rollout: "web", Revision: rev, Baseline: baseline}
	}

	running() // the target is not adopted yet: it runs no revision of kanaria's
	f.ensure("v1", false)
	running(v("v1", false))
	f.ensure("v2", false)
	f.ensure("v1", true)
	running(v("v1", false), v("v2", false), v("v1", true))

	// Promotion in place: while the target rolls to v2, v2 runs in both.
	f.stop("v1", true)
	f.rolledOut("web-canary")
	f.stop("v1", false)
	running(v("v2", false))
	f.rolledOut("web")
	f.settle()
	running(v("v2", false))

	// A copy being deleted no longer runs.
	f.ensure("v3", false)
	running(v("v2", false), v("v3", false))
	f.stop("v3", false)
	running(v("v2", false))
}
