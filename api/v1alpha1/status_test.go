package v1alpha1

import (
	"encoding/json"
	"testing"
)

// TestWeightsJSONIsPPM pins the stored status and the API's shape: weights
// are integers of ppm under names that say so, not the percentages a
// Weight writes elsewhere. A status stored before Weights held
// Weight must read back the same.
func TestWeightsJSONIsPPM(t *testing.T) {
	w := Weights{CanaryPPM: 1000, BaselinePPM: 999_000}
	b, err := json.Marshal(RolloutStatus{Weights: w, ObservedWeights: &w})
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Weights         map[string]any `json:"weights"`
		ObservedWeights map[string]any `json:"observedWeights"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]any{raw.Weights, raw.ObservedWeights} {
		if m["canaryPPM"] != 1000.0 || m["baselinePPM"] != 999000.0 || len(m) != 2 {
			t.Fatalf("weights written as %s", b)
		}
	}
	var back RolloutStatus
	if err := json.Unmarshal(b, &back); err != nil || back.Weights != w || *back.ObservedWeights != w {
		t.Fatalf("read back %+v, %v", back, err)
	}
}
