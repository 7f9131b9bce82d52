package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestWeightPPM(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want uint32
	}{{0, 0}, {0.0001, 1}, {0.1, 1000}, {1, 10000}, {33.3333, 333333}, {100, 1000000}} {
		if got := WeightPPM(c.in); got != c.want {
			t.Errorf("WeightPPM(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestDurationEncoding(t *testing.T) {
	d := Duration(90 * time.Second)
	b, _ := json.Marshal(struct{ D Duration }{d})
	if string(b) != `{"D":"1m30s"}` {
		t.Fatalf("json %s", b)
	}
	var back struct{ D Duration }
	if err := json.Unmarshal(b, &back); err != nil || back.D != d {
		t.Fatalf("json back %v %v", back.D, err)
	}
	if err := json.Unmarshal([]byte(`{"D":5}`), &back); err == nil {
		t.Fatal("number accepted as JSON duration")
	}
	y, err := yaml.Marshal(struct {
		D Duration `yaml:"d"`
	}{d})
	if err != nil || strings.TrimSpace(string(y)) != "d: 1m30s" {
		t.Fatalf("yaml %q %v", y, err)
	}
}
