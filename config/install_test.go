package config

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// install.yaml is what `kubectl kustomize` renders from this folder now: the
// kustomizations build, and the manifests embedded in the binary are not
// stale.
func TestInstallYAMLIsRendered(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubectl needed under CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	touchSources(t, ".")
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", ".")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config: %v\n%s", err, stderr.Bytes())
	}
	if !bytes.Equal(out, InstallYAML) {
		t.Fatalf("config/install.yaml is stale: run bash hack/generate.sh (kubectl kustomize config > config/install.yaml)")
	}
}

// touchSources reads every YAML file under dir, so that go test's cache,
// which knows only the files the test process opens (not kubectl's), runs
// the test again when one of them changes.
func touchSources(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		_, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
