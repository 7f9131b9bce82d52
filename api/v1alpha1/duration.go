package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration as Go does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a Go duration string, so the API and the
// store show "10s" rather than nanoseconds.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"10s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (interface{}, error) { return d.String(), nil }

// UnmarshalYAML reads a Go duration string from the node. It takes the node
// rather than bytes so that a bad value is reported at its own line and
// column, like every other type error in kanaria.yaml.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	switch n := node.(type) {
	case *ast.NullNode:
		*d = 0
		return nil
	case *ast.IntegerNode:
		// A bare 0 is unambiguous; any other number lacks its unit.
		if v, ok := n.Value.(uint64); ok && v == 0 {
			*d = 0
			return nil
		}
		if v, ok := n.Value.(int64); ok && v == 0 {
			*d = 0
			return nil
		}
		return &yaml.SyntaxError{Message: fmt.Sprintf("duration %s has no unit (write %ss)", n.GetToken().Value, n.GetToken().Value), Token: n.GetToken()}
	case *ast.StringNode:
		v, err := ParseDuration(n.Value)
		if err != nil {
			return &yaml.SyntaxError{Message: err.Error(), Token: n.GetToken()}
		}
		*d = v
		return nil
	}
	return &yaml.SyntaxError{Message: fmt.Sprintf("duration must be a string such as \"10s\", not %s", node.Type()), Token: node.GetToken()}
}

// ParseDuration reads a Go duration string ("500ms", "1m30s"). Negative
// values parse; validation refuses them with the field's position.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: 500ms, 10s, 1m30s)", s)
	}
	return Duration(v), nil
}
