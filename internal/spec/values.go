package spec

import (
	"errors"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// This file serves the router's routes file, which goccy/go-yaml still
// parses; kanaria.yaml is decoded by decode.go.

// ValueError is a Weight or Duration in a YAML document that does not
// decode, with the position of the value and its field path
// ("spec.strategy.canary.steps[0].setWeight").
type ValueError struct {
	Path string
	// Token is the value's token; for a YAML type error it is the token
	// the YAML library names.
	Token *token.Token
	Err   error
	// Weight tells a weight's range or precision error (the value is a
	// number) from every other error.
	Weight bool
	at     path
}

// CheckValues decodes, one by one, the Weight and Duration values that body
// holds when it is decoded into a value of type t, and returns those that do
// not decode, in document order. The API types decode themselves without a
// YAML library, so their errors carry no position; walking the document
// along the Go type is what gives each one its line, column and field path.
// The router's routes file uses it too.
func CheckValues(body ast.Node, t reflect.Type) []ValueError {
	var out []ValueError
	checkValues(body, t, nil, &out)
	return out
}

func checkValues(n ast.Node, t reflect.Type, p path, out *[]ValueError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n = unwrap(n)
	if n == nil {
		return
	}
	if _, null := n.(*ast.NullNode); null {
		return
	}
	switch t {
	case durationType, weightType:
		err := yaml.NodeToValue(n, reflect.New(t).Interface())
		if err == nil {
			return
		}
		ve := ValueError{Path: strings.TrimPrefix(p.String(), "."), Token: n.GetToken(), Err: err, at: p}
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			ve.Token = ye.GetToken()
		} else {
			ve.Weight = t == weightType
		}
		*out = append(*out, ve)
		return
	case metricRefType:
		if _, isName := n.(*ast.StringNode); !isName {
			checkValues(n, metricSpec, p, out)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			if kv := lookupKey(n, name); kv != nil {
				checkValues(kv.Value, f.Type, p.with(name), out)
			}
		}
	case reflect.Slice:
		if seq, ok := n.(*ast.SequenceNode); ok {
			for i, v := range seq.Values {
				checkValues(v, t.Elem(), p.with(i), out)
			}
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return
		}
		var kvs []*ast.MappingValueNode
		switch m := n.(type) {
		case *ast.MappingNode:
			kvs = m.Values
		case *ast.MappingValueNode:
			kvs = []*ast.MappingValueNode{m}
		}
		for _, kv := range kvs {
			if kv.Key != nil && kv.Key.GetToken() != nil {
				checkValues(kv.Value, t.Elem(), p.with(kv.Key.GetToken().Value), out)
			}
		}
	}
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

func lookupKey(n ast.Node, key string) *ast.MappingValueNode {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	}
	for _, kv := range values {
		if kv.Key != nil && kv.Key.GetToken() != nil && kv.Key.GetToken().Value == key {
			return kv
		}
	}
	return nil
}
