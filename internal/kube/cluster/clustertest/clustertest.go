// Package clustertest is test support for what talks to a cluster's Rollouts
// without `kanaria controller` running (the CLI, the dashboard): a Rollout to
// create, and a stand-in for the controller that carries out what a Rollout
// asks with the real engine and writes its status, as the controller would.
// The stand-in plays no platform: it observes every copy ready and every
// weight applied.
package clustertest

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// Rollout is a canary release of Deployment name: 10 %, a pause until
// promote, 50 %, an hour's pause.
func Rollout(ns, name string) *kanariav1alpha1.Rollout {
	w10, w50 := v1alpha1.Weight(100_000), v1alpha1.Weight(500_000)
	hour := v1alpha1.Duration(time.Hour)
	return &kanariav1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RolloutSpec{
			Revision: "v1",
			Platform: v1alpha1.Platform{Kubernetes: &v1alpha1.KubernetesPlatform{
				WorkloadRef: v1alpha1.WorkloadRef{Name: name},
				Containers:  []v1alpha1.ContainerTemplate{{Name: "app", Image: "ghcr.io/acme/web:{{.Revision}}"}},
			}},
			Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
				Steps: []v1alpha1.Step{{SetWeight: &w10}, {Pause: &v1alpha1.Pause{}}, {SetWeight: &w50}, {Pause: &v1alpha1.Pause{Duration: &hour}}},
			}},
		},
	}
}

// verbs maps the command annotation's verbs to the engine's commands.
var verbs = map[string]engine.Command{
	kanariav1alpha1.VerbPromote:     {Kind: engine.CmdPromote},
	kanariav1alpha1.VerbPromoteFull: {Kind: engine.CmdPromote, Full: true},
	kanariav1alpha1.VerbAbort:       {Kind: engine.CmdAbort},
	kanariav1alpha1.VerbUndo:        {Kind: engine.CmdUndo},
	kanariav1alpha1.VerbStop:        {Kind: engine.CmdStop},
	kanariav1alpha1.VerbRetry:       {Kind: engine.CmdStart}, // of spec.revision
}

// Controller stands in for one reconcile of `kanaria controller`: it
// applies what the Rollout asks (a new spec.revision, a change of
// spec.paused, a new kanaria.dev/command, retry included) with the real engine, observes
// every copy ready and the weights applied, and writes the status with the
// fields the controller keeps beside the engine's (observedGeneration,
// observedRevision, lastCommand). It returns the Rollout as written.
func Controller(t testing.TB, c client.Client, ns, name string) *kanariav1alpha1.Rollout {
	t.Helper()
	ctx := context.Background()
	var ro kanariav1alpha1.Rollout
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ro); err != nil {
		t.Fatalf("stand-in controller: %v", err)
	}
	r := v1alpha1.Rollout{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout,
		Metadata: v1alpha1.Metadata{Name: ro.Name}, Spec: *ro.Spec.DeepCopy()}
	spec.SetDefaults(&r)
	now := time.Now()
	st := ro.Status
	if st.Phase == "" {
		st, _ = engine.Initial(r, now)
		st.ObservedRevision = ro.Spec.Revision
	}
	apply := func(cmd engine.Command) {
		if next, _, err := engine.Apply(r, st, cmd, now); err == nil {
			st = next
		}
	}
	if ro.Spec.Revision != st.ObservedRevision {
		apply(engine.Command{Kind: engine.CmdStart, Revision: ro.Spec.Revision})
		st.ObservedRevision = ro.Spec.Revision
	}
	if ro.Generation > st.ObservedGeneration {
		if ro.Spec.Paused && st.Phase == v1alpha1.PhaseProgressing {
			apply(engine.Command{Kind: engine.CmdPause})
		}
		if !ro.Spec.Paused && st.Phase == v1alpha1.PhasePaused && st.PausedBy == engine.PausedByUser {
			apply(engine.Command{Kind: engine.CmdResume})
		}
	}
	if v, ok := ro.Annotations[kanariav1alpha1.CommandAnnotation]; ok {
		verb, id, err := kanariav1alpha1.ParseCommand(v)
		if err == nil && id != st.LastCommand {
			cmd := verbs[verb]
			if cmd.Kind == engine.CmdStart {
				cmd.Revision = ro.Spec.Revision
			}
			apply(cmd)
			st.LastCommand = id
		}
	}
	obs := engine.Observations{Versions: map[string]engine.VersionState{}}
	for _, key := range []string{st.StableRevision, st.CanaryRevision, engine.VersionKey(st.StableRevision, true)} {
		obs.Versions[key] = engine.VersionState{Ready: true}
	}
	for range 3 { // the copies ready, then each weight read back as set
		obs.RouterWeights = &st.Weights
		st, _ = engine.Reconcile(r, st, obs, now)
	}
	st.ObservedGeneration = ro.Generation
	ro.Status = st
	if err := c.Status().Update(ctx, &ro); err != nil {
		t.Fatalf("stand-in controller: writing the status: %v", err)
	}
	return &ro
}
