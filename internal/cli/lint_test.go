package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: kanaria.dev/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  revision: v1\n  platform: {local: {command: app}}\n  strategy: {canary: {steps: [{setWeight: 120}]}}\n"), 0o600)
	cases := []struct {
		file, want string
		ok         bool
	}{
		{"../../examples/kanaria.yaml", "../../examples/kanaria.yaml: 1 rollout OK\n", true},
		{bad, bad + ":7:32: rollouts[0].spec.strategy.canary.steps[0].setWeight: 120 is above 100%\n", false},
	}
	for _, c := range cases {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"lint", "-f", c.file})
		err := root.Execute()
		if (err == nil) != c.ok || out.String() != c.want {
			t.Errorf("lint %s: err %v, output %q, want %q", c.file, err, out.String(), c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "1 problem") {
			t.Errorf("error %v", err)
		}
	}
}
