package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsPointInward keeps the centre of kanaria free of I/O: the API
// types, the spec loader and the engine may link no kanaria package but the
// API types (and themselves), and never net/http; the API types link only
// the standard library, so any Go program (or generated CRD code) can use
// them. The CRD object (api/kube/v1alpha1) wraps them in Kubernetes object
// metadata, which links net/http, so it is checked on its own: it may link
// only the API types among kanaria's packages. A new import that breaks
// this (say, spec reaching for a notifier's config type) fails here, at the
// package that grew the edge, rather than years later as a 255-package engine.
func TestImportsPointInward(t *testing.T) {
	const mod = "github.com/kanaria-dev/kanaria/"
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list dependencies with")
	}
	for _, c := range []struct {
		pkg     string
		allowed []string // kanaria packages it may link besides the API types
		stdOnly bool     // nothing outside the standard library either
		httpOK  bool     // Kubernetes' object metadata links net/http
	}{
		{mod + "api/v1alpha1", nil, true, false},
		{mod + "api/kube/v1alpha1", []string{mod + "api/kube/v1alpha1"}, false, true},
		{mod + "internal/spec", []string{mod + "internal/spec"}, false, false},
		{mod + "internal/engine", []string{mod + "internal/engine"}, false, false},
	} {
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", c.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", c.pkg, err, out)
		}
		allowed := map[string]bool{mod + "api/v1alpha1": true}
		for _, a := range c.allowed {
			allowed[a] = true
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 {
			t.Fatalf("go list -deps %s listed nothing", c.pkg)
		}
		for _, l := range lines {
			d, std, _ := strings.Cut(l, " ")
			switch {
			case !c.httpOK && (d == "net/http" || strings.HasPrefix(d, "net/http/")):
				t.Errorf("%s links %s: the centre must not do HTTP", c.pkg, d)
			case strings.HasPrefix(d, mod) && !allowed[d]:
				t.Errorf("%s links %s: only the API types (api/v1alpha1) may be imported here", c.pkg, d)
			case c.stdOnly && std != "true" && !allowed[d]:
				t.Errorf("%s links %s: the API types import nothing but the standard library", c.pkg, d)
			}
		}
	}
}
