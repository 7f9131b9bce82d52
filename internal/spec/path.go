package spec

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// path is a field path inside one Rollout: string elements are mapping
// keys, int elements are sequence indexes.
type path []any

// String renders ".spec.strategy.canary.steps[2].setWeight".
func (p path) String() string {
	var b strings.Builder
	for _, el := range p {
		switch v := el.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(v) + "]")
		case string:
			b.WriteString("." + v)
		}
	}
	return b.String()
}

// with returns a copy extended by els, so sibling paths never share storage.
func (p path) with(els ...any) path {
	q := make(path, 0, len(p)+len(els))
	return append(append(q, p...), els...)
}

// locate walks the document's AST along p and returns the token of the
// deepest element found: the key for a mapping entry (that is where a reader
// looks), the entry itself for a sequence element.
func locate(n ast.Node, p path) *token.Token {
	var best *token.Token
	if n != nil {
		best = firstToken(n)
	}
	for _, el := range p {
		n = unwrap(n)
		if n == nil {
			return best
		}
		switch v := el.(type) {
		case string:
			kv := lookupKey(n, v)
			if kv == nil {
				return best
			}
			best = kv.Key.GetToken()
			n = kv.Value
		case int:
			seq, ok := n.(*ast.SequenceNode)
			if !ok || v < 0 || v >= len(seq.Values) {
				return best
			}
			n = seq.Values[v]
			if tk := firstToken(n); tk != nil {
				best = tk
			}
		}
	}
	return best
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

// firstToken is where a sequence element starts as a reader sees it: the
// first key of a mapping rather than its ':' token.
func firstToken(n ast.Node) *token.Token {
	switch m := unwrap(n).(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && m.Values[0].Key != nil {
			return m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return m.Key.GetToken()
		}
	case nil:
		return nil
	}
	return n.GetToken()
}
