package router

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/kanaria-dev/kanaria/internal/spec"
)

// MaxRoutesFileBytes bounds a routes file: a table of thousands of releases
// is a few hundred KiB, so anything near this is a mistake (or /dev/zero).
const MaxRoutesFileBytes = 8 << 20

// LoadFile reads and parses a routes file. Errors name the file, line,
// column and field path: "routes.yaml:12:5: releases[1].canaryWeight: 101 is above 100%".
func LoadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRoutesFileBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxRoutesFileBytes {
		return Config{}, fmt.Errorf("%s: larger than %d bytes", path, MaxRoutesFileBytes)
	}
	return Parse(path, data)
}

// Parse decodes a routes file (YAML, or JSON which is YAML too) and validates
// it. name is used only in error messages. Unknown fields and duplicate keys
// are refused, because a misspelt "canaryWieght" silently meaning 0 % is the
// kind of mistake a canary system must not make. On error the result is a
// ValidationError whose entries carry File, Line and Column.
func Parse(name string, data []byte) (cfg Config, err error) {
	// The YAML library is large; a panic in it on hostile input must become
	// an error, not take down a router that is reloading its table.
	defer func() {
		if p := recover(); p != nil {
			cfg, err = Config{}, ValidationError{{File: name, Msg: fmt.Sprintf("could not parse YAML: %v", p)}}
		}
	}()

	file, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return Config{}, ValidationError{yamlFieldError(name, perr, nil)}
	}
	if msg := documentProblem(file); msg != "" {
		return Config{}, ValidationError{{File: name, Line: 1, Column: 1, Msg: msg}}
	}
	// Weights and durations decode themselves without a YAML library, so
	// their errors carry no position; spec.CheckValues finds them with it.
	if ves := spec.CheckValues(file.Docs[0].Body, reflect.TypeFor[Config]()); len(ves) > 0 {
		return Config{}, ValidationError{valueFieldError(name, ves[0], file)}
	}
	if derr := yaml.NodeToValue(file.Docs[0].Body, &cfg, yaml.Strict()); derr != nil {
		return Config{}, ValidationError{yamlFieldError(name, derr, file)}
	}
	if verr := cfg.Validate(); verr != nil {
		var ve ValidationError
		if !errors.As(verr, &ve) {
			return Config{}, fmt.Errorf("%s: %w", name, verr)
		}
		out := make(ValidationError, len(ve))
		for i, fe := range ve {
			fe.File = name
			fe.Line, fe.Column = positionOf(file, fe.Path)
			out[i] = fe
		}
		// File order reads better than rule order when fixing a file top-down.
		sort.SliceStable(out, func(i, j int) bool {
			if out[i].Line != out[j].Line {
				return out[i].Line < out[j].Line
			}
			return out[i].Column < out[j].Column
		})
		return Config{}, out
	}
	return cfg, nil
}

// documentProblem refuses files that are empty or hold several documents:
// an empty table would route nothing, and a second document would be ignored.
func documentProblem(f *ast.File) string {
	n := 0
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			n++
		}
	}
	switch {
	case n == 0:
		return "the routes file is empty"
	case n > 1 || len(f.Docs) > 1:
		return fmt.Sprintf("holds %d YAML documents; a routes file holds one", len(f.Docs))
	}
	if _, ok := f.Docs[0].Body.(ast.MapNode); !ok {
		return "the routes file must be a mapping (listen, key, routes, releases, ...)"
	}
	return ""
}

// yamlFieldError turns a goccy error into a FieldError with the position of
// the token it names and, when the token is found in the tree, its field path.
func yamlFieldError(name string, err error, file *ast.File) FieldError {
	fe := FieldError{File: name, Msg: err.Error()}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return fe
	}
	fe.Msg = ye.GetMessage()
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil {
		fe.Msg = fmt.Sprintf("expected %s", kindName(te.DstType))
		if tk := te.Token; tk != nil {
			fe.Msg = fmt.Sprintf("expected %s, got %q", kindName(te.DstType), truncate(tk.Value, 40))
		}
	}
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		fe.Path = pathOfToken(file, tk)
	}
	return fe
}

// valueFieldError is a weight or duration that does not decode, at its
// value, with its field path.
func valueFieldError(name string, ve spec.ValueError, file *ast.File) FieldError {
	var ye yaml.Error
	if errors.As(ve.Err, &ye) {
		return yamlFieldError(name, ve.Err, file)
	}
	fe := FieldError{File: name, Path: ve.Path, Msg: ve.Err.Error()}
	if ve.Token != nil && ve.Token.Position != nil {
		fe.Line, fe.Column = ve.Token.Position.Line, ve.Token.Position.Column
	}
	return fe
}

// pathOfToken finds the node holding tk and returns its field path in the
// Validate style ("releases[0].canaryWeight"), or "" when not found.
func pathOfToken(file *ast.File, tk *token.Token) string {
	if file == nil {
		return ""
	}
	var found string
	for _, d := range file.Docs {
		ast.Walk(visitFunc(func(n ast.Node) bool {
			if found != "" {
				return false
			}
			if n.GetToken() == tk {
				found = n.GetPath()
				return false
			}
			return true
		}), d)
	}
	found = strings.TrimPrefix(strings.TrimPrefix(found, "$"), ".")
	return found
}

// visitFunc adapts a function to ast.Visitor.
type visitFunc func(ast.Node) bool

// Visit implements ast.Visitor.
func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// positionOf finds the line and column of a Validate field path in the file.
// Paths that name something absent from the file (a required field left out)
// fall back to the nearest ancestor that is present.
func positionOf(file *ast.File, fieldPath string) (line, col int) {
	// "releases[0].canaryWeight + baselineWeight" points at the first field.
	fieldPath, _, _ = strings.Cut(fieldPath, " ")
	for fieldPath != "" {
		if p, err := yaml.PathString("$." + fieldPath); err == nil {
			if n, err := p.FilterFile(file); err == nil && n != nil {
				if tk := startToken(n); tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		fieldPath = parentPath(fieldPath)
	}
	return 1, 1
}

// startToken is where a person sees a node begin: a mapping's first key
// rather than goccy's token for the mapping (its first value).
func startToken(n ast.Node) *token.Token {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && m.Values[0].Key != nil {
			return m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return m.Key.GetToken()
		}
	}
	return n.GetToken()
}

// kindName says in a person's words what a Go type accepts.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// parentPath drops the last element: "a[1].b" -> "a[1]" -> "a" -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
