package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// decoder turns one YAML document into the JSON of a Go value, walking the
// document along the Go type. Every check a YAML library would make while
// decoding (unknown fields, wrong kinds, durations, weights) is made here
// instead, so each problem is reported at its line and column with its full
// field path and in the words of the file, never in Go type names. The JSON
// it writes then decodes with encoding/json without surprises.
//
// The walk visits each node once (aliases aside, which are bounded by
// budget), so decoding is linear in the size of the file.
type decoder struct {
	file   string
	doc    string // path prefix, "rollouts[0]"
	errs   []*Error
	hard   bool // an error other than a weight's range: the value is unusable
	budget int  // nodes left to visit: bounds alias expansion
	out    bytes.Buffer
}

var (
	durationType  = reflect.TypeFor[v1alpha1.Duration]()
	weightType    = reflect.TypeFor[v1alpha1.Weight]()
	metricRefType = reflect.TypeFor[v1alpha1.MetricRef]()
	metricSpec    = reflect.TypeFor[v1alpha1.MetricSpec]()
)

func (d *decoder) fail(n *yaml.Node, p path, format string, args ...any) {
	d.hard = true
	d.report(n, p, format, args...)
}

func (d *decoder) report(n *yaml.Node, p path, format string, args ...any) {
	e := &Error{File: d.file, Path: d.doc + p.String(), Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// value writes n, which must hold a t, as JSON. On an error it writes
// null, so the rest of the document is still checked in the same pass.
func (d *decoder) value(n *yaml.Node, t reflect.Type, p path) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, p, "aliases expand to more values than the file holds; write the values out")
		}
		d.out.WriteString("null")
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.out.WriteString("null")
		return
	}
	switch t {
	case durationType:
		d.duration(n, p)
		return
	case weightType:
		d.weight(n, p)
		return
	case metricRefType:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			d.str(n.Value)
			return
		}
		t = metricSpec
	}
	switch t.Kind() {
	case reflect.Struct:
		d.object(n, t, p)
	case reflect.Map:
		d.mapping(n, t, p)
	case reflect.Slice:
		d.sequence(n, t, p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.wrongKind(n, p, "a string")
			return
		}
		// The text as written: "revision: 1.10" stays "1.10".
		d.str(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.wrongKind(n, p, "true or false")
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		d.out.WriteString(strconv.FormatBool(b))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.integer(n, t, p)
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.wrongKind(n, p, "a number")
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.fail(n, p, "%s is not a finite number", n.Value)
			d.out.WriteString("null")
			return
		}
		d.out.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		// No API type holds other kinds; refusing beats guessing.
		d.fail(n, p, "cannot be read from YAML")
		d.out.WriteString("null")
	}
}

func (d *decoder) str(s string) {
	b, _ := json.Marshal(s)
	d.out.Write(b)
}

// describe names a node's kind as a reader of the file sees it.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", truncate(n.Value, 40))
	case "!!int", "!!float":
		return "the number " + truncate(n.Value, 40)
	case "!!bool":
		return n.Value
	}
	return truncate(n.Value, 40)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (d *decoder) wrongKind(n *yaml.Node, p path, want string) {
	d.fail(n, p, "must be %s, not %s", want, describe(n))
	d.out.WriteString("null")
}

func (d *decoder) duration(n *yaml.Node, p path) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		if _, err := v1alpha1.ParseDuration(n.Value); err != nil {
			d.fail(n, p, "%v", err)
			d.out.WriteString("null")
			return
		}
		d.str(n.Value)
	case n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float"):
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f == 0 {
			d.str("0s")
			return
		}
		d.fail(n, p, "duration %s has no unit (write %ss)", n.Value, n.Value)
		d.out.WriteString("null")
	default:
		d.wrongKind(n, p, "a duration such as \"10s\"")
	}
}

// weight reads a percentage. A number out of range or finer than one part
// per million is reported but does not stop validation of the rest of the
// document; anything that is not a number does.
func (d *decoder) weight(n *yaml.Node, p path) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.wrongKind(n, p, "a number (percent) such as 10 or 0.1")
		return
	}
	w, err := v1alpha1.ParseWeight(n.Value)
	if err != nil {
		d.report(n, p, "%v", err)
		d.out.WriteString("0")
		return
	}
	// Above 100 % is validation's to say, with the other range checks.
	d.out.WriteString(w.Percent())
}

// digits is an integer too large for YAML's int, which it tags as a float.
var digits = regexp.MustCompile(`^[-+]?[0-9_]+$`)

func (d *decoder) integer(n *yaml.Node, t reflect.Type, p path) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && !(n.Tag == "!!float" && digits.MatchString(n.Value))) {
		d.wrongKind(n, p, "a whole number")
		return
	}
	v := strings.ReplaceAll(n.Value, "_", "")
	bits := t.Bits()
	var err error
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
		var u uint64
		if u, err = strconv.ParseUint(v, 0, bits); err == nil {
			d.out.WriteString(strconv.FormatUint(u, 10))
			return
		}
	} else {
		var i int64
		if i, err = strconv.ParseInt(v, 0, bits); err == nil {
			d.out.WriteString(strconv.FormatInt(i, 10))
			return
		}
	}
	if strings.HasPrefix(v, "-") && t.Kind() >= reflect.Uint {
		d.fail(n, p, "%s is negative", n.Value)
	} else {
		d.fail(n, p, "%s is out of range", n.Value)
	}
	d.out.WriteString("null")
}

func (d *decoder) object(n *yaml.Node, t reflect.Type, p path) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, p, "a mapping")
		return
	}
	fields := fieldsOf(t)
	d.out.WriteByte('{')
	seen := make(map[string]int, len(n.Content)/2)
	first := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, p, "keys must be field names, not %s", describe(k))
			continue
		}
		kp := p.with(k.Value)
		f, ok := fields.byName[k.Value]
		if !ok {
			d.fail(k, kp, "unknown field%s (fields here: %s)", suggest(k.Value, fields.names), strings.Join(fields.names, ", "))
			continue
		}
		if !d.member(k, kp, seen, &first) {
			continue
		}
		d.value(v, f, kp)
	}
	d.out.WriteByte('}')
}

// member writes key k of a mapping as a JSON object's member name
// (after a comma unless it is the first), or refuses a key the mapping
// already had, naming the line of its first appearance.
func (d *decoder) member(k *yaml.Node, kp path, seen map[string]int, first *bool) bool {
	if line, dup := seen[k.Value]; dup {
		d.fail(k, kp, "appears twice (first at line %d)", line)
		return false
	}
	seen[k.Value] = k.Line
	if !*first {
		d.out.WriteByte(',')
	}
	*first = false
	d.str(k.Value)
	d.out.WriteByte(':')
	return true
}

func (d *decoder) mapping(n *yaml.Node, t reflect.Type, p path) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, p, "a mapping")
		return
	}
	if t.Key().Kind() != reflect.String {
		d.fail(n, p, "cannot be read from YAML")
		d.out.WriteString("null")
		return
	}
	d.out.WriteByte('{')
	seen := make(map[string]int, len(n.Content)/2)
	first := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, p, "keys must be strings, not %s", describe(k))
			continue
		}
		kp := p.with(k.Value)
		if !d.member(k, kp, seen, &first) {
			continue
		}
		d.value(v, t.Elem(), kp)
	}
	d.out.WriteByte('}')
}

func (d *decoder) sequence(n *yaml.Node, t reflect.Type, p path) {
	if n.Kind != yaml.SequenceNode {
		d.wrongKind(n, p, "a list")
		return
	}
	d.out.WriteByte('[')
	for i, v := range n.Content {
		if i > 0 {
			d.out.WriteByte(',')
		}
		d.value(v, t.Elem(), p.with(i))
	}
	d.out.WriteByte(']')
}

// fields is a struct's JSON field names and their types.
type fields struct {
	byName map[string]reflect.Type
	names  []string // sorted, for messages
}

var fieldCache sync.Map // reflect.Type -> *fields

func fieldsOf(t reflect.Type) *fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fields)
	}
	f := &fields{byName: map[string]reflect.Type{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f.byName[name] = sf.Type
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	fieldCache.Store(t, f)
	return f
}

// suggest returns `; did you mean "readiness"?` when one known name is
// within two edits of the unknown one.
func suggest(got string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(got), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
