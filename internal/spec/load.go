package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// MaxFileSize is the largest spec file kanaria reads. Loading is linear in
// the file's size (about 1 µs per line here); the limit keeps one file from
// holding the control plane's memory, and is far above any real spec: a
// Rollout in a cluster must fit in an etcd request (1.5 MiB) anyway.
const MaxFileSize = 4 << 20

// maxErrors is how many problems one file reports; a file with more is
// generated or mangled, and a reader needs the first ones.
const maxErrors = 50

// Error is one problem in a spec file, at a position, with the field path
// when there is one:
//
//	kanaria.yaml:14:9: rollouts[0].spec.strategy.canary.steps[2].setWeight: 120 is above 100%
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
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
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
// name the file as given on the command line. A file above MaxFileSize is
// refused before it is read.
func LoadFile(path string) ([]v1alpha1.Rollout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		size := int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return nil, ErrorList{tooLarge(path, size)}
	}
	return Parse(path, data)
}

func tooLarge(name string, size int64) *Error {
	return &Error{File: filepath.ToSlash(name), Message: fmt.Sprintf(
		"the file is %.1f MiB; kanaria reads spec files up to %d MiB", float64(size)/(1<<20), MaxFileSize>>20)}
}

// Parse decodes every "---"-separated Rollout document in data, refusing
// unknown fields and values of the wrong kind, then validates and defaults
// them. name is used in error positions. A returned error is an ErrorList
// in file order; nothing is returned with it.
func Parse(name string, data []byte) (rs []v1alpha1.Rollout, err error) {
	if name == "" {
		name = "kanaria.yaml"
	}
	if len(data) > MaxFileSize {
		return nil, ErrorList{tooLarge(name, int64(len(data)))}
	}
	// The YAML library is a large parser fed untrusted text; a panic in it
	// must become an error in `kanaria lint`, not a crash of the control
	// plane.
	defer func() {
		if p := recover(); p != nil {
			rs, err = nil, ErrorList{{File: filepath.ToSlash(name), Message: fmt.Sprintf("cannot parse: %v", p)}}
		}
	}()
	docs, perr := parseDocuments(name, data)
	if perr != nil {
		return nil, ErrorList{perr}
	}
	if len(docs) == 0 {
		return nil, ErrorList{{File: name, Message: "no Rollout documents"}}
	}
	var errs ErrorList
	budget := len(data) + 64
	for i, body := range docs {
		d := decoder{file: name, doc: fmt.Sprintf("rollouts[%d]", i), budget: budget}
		d.value(body, rolloutType, nil)
		budget = max(d.budget, 0)
		errs = append(errs, d.errs...)
		if d.hard {
			continue
		}
		var r v1alpha1.Rollout
		dec := json.NewDecoder(bytes.NewReader(d.out.Bytes()))
		dec.DisallowUnknownFields()
		if jerr := dec.Decode(&r); jerr != nil {
			// The walk checks what decoding checks; this is a bug in it,
			// still reported without a crash.
			errs = append(errs, &Error{File: name, Line: body.Line, Column: body.Column, Path: d.doc, Message: jerr.Error()})
			continue
		}
		rs = append(rs, r)
		for _, fe := range validateRollout(r) {
			errs = append(errs, positioned(name, i, body, fe))
		}
	}
	if len(rs) == len(docs) {
		errs = append(errs, uniqueNames(name, docs, rs)...)
	}
	if len(errs) > 0 {
		return nil, capErrors(errs)
	}
	for i := range rs {
		SetDefaults(&rs[i])
	}
	return rs, nil
}

var rolloutType = reflect.TypeFor[v1alpha1.Rollout]()

// parseDocuments returns the root node of every document that is not empty.
func parseDocuments(name string, data []byte) ([]*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, syntaxError(name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		body := doc.Content[0]
		if body.Kind == yaml.ScalarNode && body.Tag == "!!null" {
			continue
		}
		docs = append(docs, body)
	}
}

var lineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of go.yaml.in/yaml/v3's parser (as
// opposed to its scanner). For these it reports the zero-based line of the
// construct being parsed, so the line is one more; the message names what
// is missing there.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected <stream-start>":   true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns the YAML library's "yaml: line 6: did not find ..." into
// an Error at that line.
func syntaxError(name string, err error) *Error {
	msg := err.Error()
	e := &Error{File: name, Message: strings.TrimPrefix(msg, "yaml: ")}
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Message = m[2]
		if parserProblems[e.Message] {
			e.Line++
			e.Message += " in the block that starts on this line"
		}
	}
	return e
}

// capErrors sorts errors into file order and keeps the first maxErrors.
func capErrors(errs ErrorList) ErrorList {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if len(errs) > maxErrors {
		more := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], &Error{File: errs[0].File, Message: fmt.Sprintf("and %d more problems", more)})
	}
	return errs
}

// uniqueNames refuses a second rollout with the same name; the error points
// at the later one.
func uniqueNames(name string, docs []*yaml.Node, rs []v1alpha1.Rollout) ErrorList {
	var errs ErrorList
	seen := map[string]int{}
	for i, r := range rs {
		n := r.Metadata.Name
		if n == "" {
			continue
		}
		if j, ok := seen[n]; ok {
			errs = append(errs, positioned(name, i, docs[i], fieldErr(path{"metadata", "name"}, "duplicate name %q (also rollouts[%d])", n, j)))
			continue
		}
		seen[n] = i
	}
	return errs
}

// positioned places a validation error at the field it names, or at the
// nearest field that exists when the field itself is missing.
func positioned(name string, doc int, body *yaml.Node, fe fieldError) *Error {
	e := &Error{File: name, Path: fmt.Sprintf("rollouts[%d]", doc) + fe.path.String(), Message: fe.msg}
	if n := locate(body, fe.path); n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}
