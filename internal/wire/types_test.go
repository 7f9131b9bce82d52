package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// The dashboard reads a point's weights as flat integers of ppm beside
// "t"; a HistoryPoint must keep writing that, whatever its Go shape.
func TestHistoryPointJSON(t *testing.T) {
	p := HistoryPoint{UnixMS: 1500, Weights: v1alpha1.Weights{CanaryPPM: 125_000, BaselinePPM: 1000},
		Versions: map[string]VersionPoint{"canary": {Revision: "v2", Requests: 3}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"t":1500,"canaryPPM":125000,"baselinePPM":1000,"versions":{"canary":{"revision":"v2","requests":3,"errors":0,"errorRate":0}}}`
	if string(b) != want {
		t.Fatalf("JSON = %s\nwant   %s", b, want)
	}
	var back HistoryPoint
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip = %+v (%v), want %+v", back, err, p)
	}
}
