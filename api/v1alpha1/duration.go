package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("30s") in
// every document kanaria reads or writes: kanaria.yaml, the routes file and
// the APIs' JSON.
//
// +kubebuilder:validation:Type=string
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration as Go does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a Go duration string, so the API and the
// store show "10s" rather than nanoseconds.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a Go duration string. Numbers are refused: a bare 5
// could mean seconds or nanoseconds, and guessing wrong would silently set a
// 5ns timeout.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"10s\", not %s", truncate(string(b), 40))
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a Go duration string; null and a bare 0 are zero, any
// other number lacks its unit. The signature is goccy/go-yaml's
// InterfaceUnmarshaler (and gopkg.in/yaml.v2's Unmarshaler), so this package
// needs no YAML library; the error carries no position, which the routes
// file's loader adds. kanaria.yaml is checked by internal/spec's own walk
// (the same rules, with field paths) and decoded from JSON.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	switch v := raw.(type) {
	case nil:
		*d = 0
		return nil
	case string:
		p, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*d = p
		return nil
	case uint64, int64, int, float64:
		if fmt.Sprint(v) == "0" {
			*d = 0
			return nil
		}
		return fmt.Errorf("duration %v has no unit (write %vs)", v, v)
	}
	return fmt.Errorf("duration must be a string such as \"10s\", not %s", kindOf(raw))
}

// ParseDuration reads a Go duration string ("500ms", "1m30s"). Negative
// values parse; validation refuses them with the field's position.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: 500ms, 10s, 1m30s)", truncate(s, 40))
	}
	return Duration(v), nil
}

// kindOf names a decoded YAML value's kind for an error message.
func kindOf(v any) string {
	switch v.(type) {
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// truncate keeps error messages readable when the input is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
