package v1alpha1

import (
	"reflect"
	"testing"
	"time"
)

// TestRolloutStatusDeepCopyShares nothing: a change to the copy's pointers
// and slices leaves the original as it was.
func TestRolloutStatusDeepCopy(t *testing.T) {
	orig := RolloutStatus{
		Phase:           PhaseProgressing,
		StepStartedAt:   time.Unix(1700000000, 0).UTC(),
		ObservedWeights: &Weights{CanaryPPM: 1000},
		Traffic: &TrafficStatus{
			Stable: BackendStatus{Revision: "v1", Endpoints: []string{"http://web-stable.ns.svc:80"}},
			Canary: &BackendStatus{Revision: "v2", Endpoints: []string{"http://web-canary.ns.svc:80"}},
		},
		Conditions: []Condition{{Type: ConditionReady, Status: ConditionTrue, Reason: "Serving"}},
	}
	want := *orig.DeepCopy()
	if !reflect.DeepEqual(want, orig) {
		t.Fatalf("copy differs:\n%+v\n%+v", want, orig)
	}
	cp := orig.DeepCopy()
	cp.ObservedWeights.CanaryPPM = 5
	cp.Traffic.Canary.Revision = "v3"
	cp.Traffic.Stable.Endpoints[0] = "x"
	cp.Conditions[0].Status = ConditionFalse
	if !reflect.DeepEqual(want, orig) {
		t.Fatalf("changing the copy changed the original:\n%+v", orig)
	}
}
