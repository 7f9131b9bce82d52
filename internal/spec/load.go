package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Error is one problem in a spec file, at a position, with the field path
// when there is one:
//
//	kanaria.yaml:14:9: rollouts[0].spec.strategy.canary.steps[2].setWeight: 120 is above 100
type Error struct {
	File   string
	Line   int
	Column int
	// Path is the field path ("rollouts[0].spec.revision"); empty for
	// syntax errors.
	Path    string
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one file, in file order. Its Error is
// one problem per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads, validates and defaults every Rollout in the file. Errors
// name the file as given on the command line (its base name if absolute
// paths would be noisy is the caller's choice).
func LoadFile(path string) ([]v1alpha1.Rollout, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes every "---"-separated Rollout document in data, refusing
// unknown fields, then validates and defaults them. name is used in error
// positions. A returned error is an ErrorList.
func Parse(name string, data []byte) (rs []v1alpha1.Rollout, err error) {
	if name == "" {
		name = "kanaria.yaml"
	}
	// The YAML library is a large parser fed untrusted text; a panic in it
	// must become an error in `kanaria lint`, not a crash of the control
	// plane.
	defer func() {
		if p := recover(); p != nil {
			rs, err = nil, ErrorList{{File: filepath.ToSlash(name), Message: fmt.Sprintf("cannot parse: %v", p)}}
		}
	}()
	var docs []*ast.DocumentNode
	for _, chunk := range splitDocuments(data) {
		file, perr := parser.ParseBytes(chunk, 0)
		if perr != nil {
			return nil, ErrorList{yamlError(name, "", perr)}
		}
		for _, d := range file.Docs {
			if d != nil && d.Body != nil && !isNull(d.Body) {
				docs = append(docs, d)
			}
		}
	}
	if len(docs) == 0 {
		return nil, ErrorList{{File: name, Message: "no Rollout documents"}}
	}
	var errs ErrorList
	for i, d := range docs {
		doc := fmt.Sprintf("rollouts[%d]", i)
		// Weights and durations decode themselves without a YAML library,
		// so their errors are found here, with positions, before the
		// document is decoded. A negative weight or one finer than ppm is
		// a validation error at its field, reported with the others (as is
		// one above 100 %, by validation); any other bad value is a
		// decoding error, like a wrong type.
		var weightErrs []fieldError
		var decodeErr *Error
		for _, ve := range CheckValues(d.Body, rolloutType) {
			switch {
			case ve.Weight:
				weightErrs = append(weightErrs, fieldError{path: ve.at, msg: ve.Err.Error()})
			case decodeErr == nil:
				decodeErr = yamlError(name, doc, ve.Err)
				if decodeErr.Line == 0 && ve.Token != nil && ve.Token.Position != nil {
					decodeErr.Line, decodeErr.Column = ve.Token.Position.Line, ve.Token.Position.Column
				}
			}
		}
		if decodeErr != nil {
			errs = append(errs, decodeErr)
			continue
		}
		var r v1alpha1.Rollout
		if derr := yaml.NodeToValue(d.Body, &r, yaml.Strict(), lenientWeights); derr != nil {
			errs = append(errs, yamlError(name, doc, derr))
			continue
		}
		rs = append(rs, r)
		for _, fe := range append(weightErrs, validateRollout(r)...) {
			errs = append(errs, positioned(name, i, d.Body, fe))
		}
	}
	errs = append(errs, uniqueNames(name, docs, rs)...)
	if len(errs) > 0 {
		return nil, errs
	}
	for i := range rs {
		SetDefaults(&rs[i])
	}
	return rs, nil
}

var rolloutType = reflect.TypeFor[v1alpha1.Rollout]()

// lenientWeights decodes a weight that CheckValues already reported as 0,
// so the rest of the document is still decoded and validated and every
// problem is reported in one pass.
var lenientWeights = yaml.CustomUnmarshaler(func(w *v1alpha1.Weight, b []byte) error {
	if err := yaml.Unmarshal(b, w); err != nil {
		*w = 0
	}
	return nil
})

// splitDocuments cuts data at "---" lines and parses each document on its
// own, because go-yaml v1.19.2 silently drops every document after an empty
// one ("---" followed by "---"). A "---" at column 0 always starts a document
// in YAML, even inside a block scalar, so the cut is exact. Each piece is
// padded with the newlines before it so positions stay those of the file.
func splitDocuments(data []byte) [][]byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var chunks [][]byte
	start := 0
	flush := func(end int) {
		if end > start {
			chunk := bytes.Repeat([]byte("\n"), start)
			chunks = append(chunks, append(chunk, bytes.Join(lines[start:end], nil)...))
		}
	}
	for i, l := range lines {
		if i > start && isDocStart(l) {
			flush(i)
			start = i
		}
	}
	flush(len(lines))
	return chunks
}

func isDocStart(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// yamlError turns a go-yaml error into an Error at the token's position.
func yamlError(name, path string, err error) *Error {
	e := &Error{File: name, Path: path, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// uniqueNames refuses a second rollout with the same name; the error points
// at the later one. It only sees documents that decoded.
func uniqueNames(name string, docs []*ast.DocumentNode, rs []v1alpha1.Rollout) ErrorList {
	if len(rs) != len(docs) {
		return nil // indexes would not line up; decode errors are reported already
	}
	var errs ErrorList
	seen := map[string]int{}
	for i, r := range rs {
		n := r.Metadata.Name
		if n == "" {
			continue
		}
		if j, ok := seen[n]; ok {
			errs = append(errs, positioned(name, i, docs[i].Body, fieldErr(path{"metadata", "name"}, "duplicate name %q (also rollouts[%d])", n, j)))
			continue
		}
		seen[n] = i
	}
	return errs
}

// positioned places a validation error at the field it names, or at the
// nearest field that exists when the field itself is missing.
func positioned(name string, doc int, body ast.Node, fe fieldError) *Error {
	e := &Error{File: name, Path: fmt.Sprintf("rollouts[%d]", doc) + fe.path.String(), Message: fe.msg}
	if tk := locate(body, fe.path); tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	return e
}
