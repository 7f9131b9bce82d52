package spec

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
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

// locate walks the document along p and returns the node of the deepest
// element found: the key for a mapping entry (that is where a reader looks),
// the first key of a mapping that is a sequence element. Each step scans one
// mapping's keys; Parse locates a bounded number of errors, so a wide
// mapping costs no more than linear time.
func locate(n *yaml.Node, p path) *yaml.Node {
	best := firstNode(n)
	for _, el := range p {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return best
		}
		switch v := el.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return best
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == v {
					best, next = k, n.Content[i+1]
					break
				}
			}
			if next == nil {
				return best
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || v < 0 || v >= len(n.Content) {
				return best
			}
			n = n.Content[v]
			best = firstNode(n)
		}
	}
	return best
}

// firstNode is where a value starts as a reader sees it: the first key of a
// mapping rather than the mapping (a flow mapping's position is its "{").
func firstNode(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}
