package router

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// D returns the value as a time.Duration, for callers that need arithmetic.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration the way the routes file spells it ("250ms").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes a Go duration string, so the admin API returns what a
// person would type in the routes file rather than a count of nanoseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string ("250ms", "1m30s"). Numbers are
// refused: a bare 5 could mean seconds or nanoseconds, and guessing wrong
// would silently set a 5ns timeout.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"250ms\", got %s", truncate(string(b), 40))
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes a Go duration string, so a Config written back as YAML
// reads the same as the file it came from.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler. goccy does not
// consult json.Unmarshaler unless asked, and errors from a bytes unmarshaler
// lose their position; working on the node lets the error carry the
// line and column of the bad value.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	var s string
	switch n := node.(type) {
	case *ast.NullNode:
		*d = 0
		return nil
	case *ast.StringNode:
		s = n.Value
	case *ast.IntegerNode, *ast.FloatNode:
		s = n.GetToken().Value
	default:
		return &yaml.SyntaxError{Message: "duration must be a string such as \"250ms\"", Token: node.GetToken()}
	}
	v, err := parseDuration(s)
	if err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	*d = v
	return nil
}

// parseDuration accepts Go duration strings. A bare "0" is allowed (it means
// "use the default"); other unit-less numbers are refused by time.ParseDuration.
func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration such as \"250ms\" or \"1m30s\"", truncate(s, 40))
	}
	return Duration(v), nil
}

// truncate keeps error messages readable when the input is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
