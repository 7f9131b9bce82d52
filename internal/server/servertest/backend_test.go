package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// The weights are the engine's, not a copy of its rules: with a baseline,
// a 60 % canary leaves the baseline 40 %, so the two never exceed 100 %.
func TestWeightsComeFromTheEngine(t *testing.T) {
	r := Canary("web")
	w60 := v1alpha1.Weight(600_000)
	r.Spec.Strategy.Canary.Steps = []v1alpha1.Step{{SetWeight: &w60}, {Pause: &v1alpha1.Pause{}}}
	b := New(wire.Info{}, r)
	ctx := context.Background()
	v, err := b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	if err != nil || v.Status.Weights != (v1alpha1.Weights{}) || v.Status.CanaryReady {
		t.Fatalf("at start: %+v, %v; want no weight before the canary is ready", v.Status, err)
	}
	b.Tick(time.Second)
	v, _ = b.Get(ctx, "web")
	if v.Status.Weights != (v1alpha1.Weights{CanaryPPM: 600_000, BaselinePPM: 400_000}) || v.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("after a tick: %+v", v.Status)
	}
	b.Tick(time.Second)
	if v, _ = b.Get(ctx, "web"); v.Status.ObservedWeights == nil || *v.Status.ObservedWeights != v.Status.Weights {
		t.Fatalf("the pretend router serves what was asked: %+v", v.Status)
	}
}

func TestCommandsAnswerAsTheControlPlane(t *testing.T) {
	b := New(wire.Info{}, Canary("web"))
	ctx := context.Background()
	if _, err := b.Do(ctx, "web", engine.Command{Kind: engine.CmdPause}); err == nil {
		t.Fatal("pause with no release applied")
	} else if _, ok := err.(*wire.ConflictError); !ok {
		t.Fatalf("pause with no release: %T %v, want a *wire.ConflictError", err, err)
	}
	b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"})
	if v, err := b.Do(ctx, "web", engine.Command{Kind: engine.CmdStart, Revision: "v2"}); err != nil || v.Note == "" {
		t.Fatalf("the same start again: %+v, %v; want a note", v, err)
	}
	if _, err := b.Do(ctx, "nope", engine.Command{Kind: engine.CmdPause}); err != wire.ErrNotFound {
		t.Fatalf("unknown rollout: %v", err)
	}
	if got := b.Calls(); len(got) != 4 {
		t.Fatalf("calls %v", got)
	}
}
