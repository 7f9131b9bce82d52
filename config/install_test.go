package config

import (
	"bytes"
	"os"
	"os/exec"
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
