// Package binary is test support: it builds the kanaria binary at most once
// per test process, for the tests that run kanaria as real processes (the
// controller, routers, the data plane, `kanaria up`, the CLI as a kubectl
// plugin). Every such package shares this one build step instead of its own
// `go build` in each TestMain.
//
// A package that uses it calls Main from its TestMain, which runs the tests
// and then removes the build directory:
//
//	func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }
//
// Nothing is built until a test asks for the binary, so `go test -run` of a
// test that runs no process builds nothing.
package binary

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Package is the main package built.
const Package = "github.com/kanaria-dev/kanaria/cmd/kanaria"

// build is one binary built at most once: plain or race-instrumented.
type build struct {
	race bool
	once sync.Once
	path string
	err  error
}

var (
	// mu guards dir and managed.
	mu      sync.Mutex
	dir     string
	managed bool

	plain = &build{}
	raced = &build{race: true}
)

// Main runs the tests of m and removes what was built. Call it from
// TestMain: without it Kanaria refuses to build (its output would outlive
// the test process).
func Main(m *testing.M) int {
	mu.Lock()
	managed = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	mu.Unlock()
	return code
}

// Kanaria returns the path of the kanaria binary, built on the first call;
// a build that fails fails every test that asks for it.
func Kanaria(tb testing.TB) string {
	tb.Helper()
	return plain.get(tb)
}

// KanariaAsTest is Kanaria built with the race detector when the test
// binary is (go test -race), so a data race in a process the test runs is
// found as one in the test would be. Race-built processes are several times
// slower; packages whose processes serve load use Kanaria.
func KanariaAsTest(tb testing.TB) string {
	tb.Helper()
	if raceEnabled {
		return raced.get(tb)
	}
	return plain.get(tb)
}

// KanariaRace is the kanaria binary built with the race detector, whatever
// the test binary is.
func KanariaRace(tb testing.TB) string {
	tb.Helper()
	return raced.get(tb)
}

// Race reports whether KanariaAsTest's binary is race-built.
func Race() bool { return raceEnabled }

func (b *build) get(tb testing.TB) string {
	tb.Helper()
	b.once.Do(func() { b.path, b.err = b.run() })
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

func (b *build) run() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if !managed {
		return "", fmt.Errorf("binary: the package's TestMain must call binary.Main(m)")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "kanaria-testbin-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	name := "kanaria"
	args := []string{"build"}
	if b.race {
		name += "-race"
		args = append(args, "-race")
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", append(args, "-o", out, Package)...)
	// From the module's root: some tests change directory.
	cmd.Dir = moduleRoot()
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %v: %v\n%s", args, err, o)
	}
	return out, nil
}

// moduleRoot is the repository's root, three folders above this file.
func moduleRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
