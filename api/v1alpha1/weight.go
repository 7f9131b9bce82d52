package v1alpha1

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// PPM is 100 % in parts per million.
const PPM = 1_000_000

// Weight is a share of traffic in parts per million: 1000 is 0.1 %, PPM is
// 100 %. Every part of kanaria computes in ppm; a Weight is written as a
// percentage only in documents (kanaria.yaml, the routes file, the API's
// JSON), with up to four decimals, which is exactly ppm precision.
//
// +kubebuilder:validation:Type=number
type Weight uint32

// ParseWeight reads a percentage ("0.1", "33.3333", "100") as a Weight. It is
// the one place where a percentage becomes ppm, so every reader refuses the
// same things: non-numbers, negative values and anything finer than one ppm
// (0.0001 %), which the router could not honour. A value above 100 is
// returned as it is, so that validation can name the field it is in; Validate
// refuses it.
func ParseWeight(percent string) (Weight, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(percent), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is not a number", percent)
	}
	v := strconv.FormatFloat(f, 'f', -1, 64)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0) && err == nil:
		return 0, fmt.Errorf("%s is not a number", percent)
	case f < 0:
		return 0, fmt.Errorf("%s is below 0%%", v)
	case f*PPM/100 > math.MaxUint32:
		return 0, fmt.Errorf("%s is above 100%%", strings.TrimSpace(percent))
	}
	ppm := f * PPM / 100
	if math.Abs(ppm-math.Round(ppm)) > 1e-6 {
		return 0, fmt.Errorf("%s is finer than one part per million (0.0001%%)", v)
	}
	return Weight(math.Round(ppm)), nil
}

// Validate refuses a weight above 100 %.
func (w Weight) Validate() error {
	if w > PPM {
		return fmt.Errorf("%s is above 100%%", w.Percent())
	}
	return nil
}

// WeightFromPercent is ParseWeight for a percentage that arrived as a
// number (a JSON body decoded into a float64).
func WeightFromPercent(percent float64) (Weight, error) {
	return ParseWeight(strconv.FormatFloat(percent, 'f', -1, 64))
}

// Percent renders the weight as a percentage without the sign, in integer
// arithmetic so no float noise shows: 1000 -> "0.1", 333333 -> "33.3333".
func (w Weight) Percent() string {
	s := fmt.Sprintf("%d.%04d", w/10000, w%10000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// String renders the weight for people: "0.1%".
func (w Weight) String() string { return w.Percent() + "%" }

// MarshalJSON writes the weight as a percentage number (0.1).
func (w Weight) MarshalJSON() ([]byte, error) { return []byte(w.Percent()), nil }

// UnmarshalJSON reads a percentage number, refusing what ParseWeight
// refuses; a string ("10") is refused too. A value above 100 is read, for
// validation to refuse at its field.
func (w *Weight) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return fmt.Errorf("weight must be a number such as 0.1 (percent), not %s", b)
	}
	v, err := ParseWeight(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// MarshalYAML writes the weight as a percentage number, as a person writes
// it in kanaria.yaml.
func (w Weight) MarshalYAML() (any, error) {
	f, _ := strconv.ParseFloat(w.Percent(), 64)
	return f, nil
}

// UnmarshalYAML reads a percentage number. Its signature is that of
// goccy/go-yaml's InterfaceUnmarshaler (and gopkg.in/yaml.v2's Unmarshaler)
// so that this package needs no YAML library: unmarshal decodes the node
// into a float64, so a non-number fails at its line and column; the range
// and precision errors returned from here carry no position, and the
// routes file's loader adds it. kanaria.yaml is checked by internal/spec's
// own walk (the same rules, with field paths) and decoded from JSON.
func (w *Weight) UnmarshalYAML(unmarshal func(any) error) error {
	var f float64
	if err := unmarshal(&f); err != nil {
		return err
	}
	v, err := WeightFromPercent(f)
	if err != nil {
		return err
	}
	*w = v
	return nil
}
