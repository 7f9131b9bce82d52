package cli

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// `kanaria install --dry-run` prints exactly what `kubectl kustomize config`
// renders from the repository's folder.
func TestInstallDryRunIsKustomizeOutput(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kubectl needed under CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	var stderr bytes.Buffer
	kc := exec.Command(kubectl, "kustomize", "../../config")
	kc.Stderr = &stderr
	want, err := kc.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config: %v\n%s", err, stderr.Bytes())
	}
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"install", "--dry-run"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("install --dry-run differs from kubectl kustomize config (%d vs %d bytes): run bash hack/generate.sh", out.Len(), len(want))
	}
}
