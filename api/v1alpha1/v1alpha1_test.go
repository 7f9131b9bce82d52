package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestParseWeight(t *testing.T) {
	for in, want := range map[string]Weight{
		"0": 0, "0.0001": 1, "0.1": 1000, "1": 10000, "33.3333": 333333, "100": PPM, " 5 ": 50000, "1e-4": 1,
		"101": 1_010_000, // read as it is; Validate refuses it at its field
	} {
		if got, err := ParseWeight(in); err != nil || got != want {
			t.Errorf("ParseWeight(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"-1":       "-1 is below 0%",
		"0.00005":  "0.00005 is finer than one part per million (0.0001%)",
		"33.33333": "33.33333 is finer than",
		"ten":      "ten is not a number",
		"NaN":      "NaN is not a number",
		"1e400":    "1e400 is above 100%",
		"":         " is not a number",
	} {
		if got, err := ParseWeight(in); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseWeight(%q) = %d, %v; want an error %q", in, got, err, want)
		}
	}
	if err := Weight(PPM).Validate(); err != nil {
		t.Errorf("100%% refused: %v", err)
	}
	if err := Weight(PPM + 1).Validate(); err == nil || err.Error() != "100.0001 is above 100%" {
		t.Errorf("100.0001%% accepted or misnamed: %v", err)
	}
}

func TestWeightString(t *testing.T) {
	for w, want := range map[Weight]string{
		0: "0%", 1: "0.0001%", 1000: "0.1%", 12345: "1.2345%", 100000: "10%", 500000: "50%", PPM: "100%", 105000: "10.5%",
	} {
		if got := w.String(); got != want {
			t.Errorf("Weight(%d).String() = %q, want %q", w, got, want)
		}
	}
}

func TestWeightJSON(t *testing.T) {
	type doc struct {
		W Weight `json:"w"`
	}
	for _, w := range []Weight{0, 1, 1000, 333333, PPM} {
		b, err := json.Marshal(doc{w})
		var back doc
		if err != nil || json.Unmarshal(b, &back) != nil || back.W != w {
			t.Errorf("%d -> %s -> %d (%v)", w, b, back.W, err)
		}
	}
	if b, _ := json.Marshal(doc{1000}); string(b) != `{"w":0.1}` {
		t.Errorf("0.1%% marshals as %s", b)
	}
	for _, bad := range []string{`{"w":-1}`, `{"w":0.00001}`, `{"w":"10"}`, `{"w":true}`} {
		var d doc
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted as %d", bad, d.W)
		}
	}
}

func TestWeightYAML(t *testing.T) {
	var d struct {
		W Weight `json:"w"`
	}
	if err := yaml.Unmarshal([]byte("w: 0.1\n"), &d); err != nil || d.W != 1000 {
		t.Fatalf("w: 0.1 -> %d, %v", d.W, err)
	}
	if out, err := yaml.Marshal(d); err != nil || strings.TrimSpace(string(out)) != "w: 0.1" {
		t.Fatalf("marshal %q %v", out, err)
	}
	for _, bad := range []string{"w: -1\n", "w: lots\n", "w: 0.00001\n"} {
		if err := yaml.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var d struct {
		D Duration `json:"d"`
	}
	for in, want := range map[string]Duration{"d: 1m30s\n": Duration(90 * time.Second), "d: 0\n": 0, "d:\n": 0, "d: -5s\n": Duration(-5 * time.Second)} {
		d.D = 0
		if err := yaml.Unmarshal([]byte(in), &d); err != nil || d.D != want {
			t.Errorf("%q -> %v, %v; want %v", in, d.D, err, want)
		}
	}
	for in, want := range map[string]string{
		"d: 10\n":     "duration 10 has no unit (write 10s)",
		"d: 1.5\n":    "duration 1.5 has no unit (write 1.5s)",
		"d: soon\n":   `"soon" is not a duration`,
		"d: [1s]\n":   "duration must be a string such as \"10s\", not a list",
		"d: {a: 1}\n": "duration must be a string such as \"10s\", not a mapping",
	} {
		if err := yaml.Unmarshal([]byte(in), &d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestMetricRefYAML(t *testing.T) {
	var refs []MetricRef
	src := "- error-rate\n- {name: p99, kind: latency, provider: {router: {}}}\n"
	if err := yaml.UnmarshalWithOptions([]byte(src), &refs, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Name != "error-rate" || refs[0].Inline != nil ||
		refs[1].Inline == nil || refs[1].Name != "p99" || refs[1].Inline.Provider.Router == nil {
		t.Fatalf("decoded %+v", refs)
	}
	err := yaml.UnmarshalWithOptions([]byte("- {name: p99, kynd: latency}\n"), &refs, yaml.Strict())
	if err == nil || !strings.Contains(err.Error(), `unknown field "kynd"`) || !strings.Contains(err.Error(), "[1:15]") {
		t.Fatalf("inline unknown field: %v", err)
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
