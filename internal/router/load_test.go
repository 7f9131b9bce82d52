package router

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodRoutes = `# a small but complete routes file
listen: 127.0.0.1:8080
key:
  header: X-User-Id
  salt: s1
timeouts:
  dial: 2s
routes:
  - host: shop.example.com
    pathPrefix: /
    release: shop
releases:
  - name: shop
    stable:
      revision: v1
      endpoints: ["http://127.0.0.1:9001", "http://127.0.0.1:9011"]
    canary:
      revision: v2
      endpoints: ["http://127.0.0.1:9002"]
    canaryWeight: 0.1
`

func TestParseGood(t *testing.T) {
	c, err := Parse("routes.yaml", []byte(goodRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if c.Key.Header != "X-User-Id" || c.Timeouts.Dial.D() != 2*time.Second || len(c.Releases[0].Stable.Endpoints) != 2 {
		t.Fatalf("decoded wrongly: %+v", c)
	}
	if ppm := c.Releases[0].CanaryWeight; ppm != 1000 {
		t.Fatalf("canaryWeight 0.1 = %d ppm, want 1000", ppm)
	}
}

// TestParseErrorsCarryPosition: each broken file is refused with
// "file:line:col: path: message" pointing at the offending line.
func TestParseErrorsCarryPosition(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"yaml syntax", "releases: [\n  - name: a\nroutes: {", "routes.yaml:"},
		{"unknown field", strings.Replace(goodRoutes, "canaryWeight:", "canaryWieght:", 1),
			`routes.yaml:20:5: releases[0].canaryWieght: unknown field "canaryWieght"`},
		{"wrong type", strings.Replace(goodRoutes, "canaryWeight: 0.1", "canaryWeight: lots", 1),
			`routes.yaml:20:19: releases[0].canaryWeight: expected a number, got "lots"`},
		{"bad duration", strings.Replace(goodRoutes, "dial: 2s", "dial: 2", 1),
			`routes.yaml:7:9: timeouts.dial: duration 2 has no unit (write 2s)`},
		{"negative weight", strings.Replace(goodRoutes, "canaryWeight: 0.1", "canaryWeight: -1", 1),
			"routes.yaml:20:19: releases[0].canaryWeight: -1 is below 0%"},
		{"weight finer than ppm", strings.Replace(goodRoutes, "canaryWeight: 0.1", "canaryWeight: 0.00001", 1),
			"routes.yaml:20:19: releases[0].canaryWeight: 0.00001 is finer than one part per million"},
		{"weight above 100", strings.Replace(goodRoutes, "canaryWeight: 0.1", "canaryWeight: 101", 1),
			"routes.yaml:20:19: releases[0].canaryWeight: 101 is above 100%"},
		{"unknown release", strings.Replace(goodRoutes, "release: shop", "release: x", 1),
			`routes.yaml:11:14: routes[0].release: no release named "x"`},
		{"missing revision points at parent", strings.Replace(goodRoutes, "      revision: v2\n", "", 1),
			"routes.yaml:18:7: releases[0].canary.revision: required"},
		{"duplicate key", goodRoutes + "listen: 127.0.0.1:1\n", "routes.yaml:21:1: "},
		{"empty", "# nothing\n", "routes.yaml:1:1: the routes file is empty"},
		{"two documents", goodRoutes + "---\n" + goodRoutes, "routes.yaml:1:1: holds 2 YAML documents"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("routes.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			var ve ValidationError
			if !errors.As(err, &ve) || ve[0].Line == 0 || ve[0].File != "routes.yaml" {
				t.Fatalf("want positioned ValidationError, got %#v", err)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(p, []byte(goodRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(goodRoutes, "canaryWeight: 0.1", "canaryWeight: 60\n    baselineWeight: 50", 1)
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(p)
	if err == nil || !strings.Contains(err.Error(), p+":20:19: releases[0].canaryWeight + baselineWeight: 60% + 50% is above 100%") {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestExampleRoutesFileParses keeps docs/router.md's example honest.
func TestExampleRoutesFileParses(t *testing.T) {
	if _, err := LoadFile("../../examples/routes.yaml"); err != nil {
		t.Fatal(err)
	}
}
