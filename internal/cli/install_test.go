package cli

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/internal/testenv/kube"
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
	// Read here, so that go test's cache sees a change of any source:
	// kubectl's reads are not the test's.
	if err := filepath.WalkDir("../../config", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			_, err = os.ReadFile(p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
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

// kanaria install applies the manifests to a real API server, twice without
// error (server-side apply owns the same fields again), and the RBAC it
// creates is least privilege: each ServiceAccount may do what its process
// does and not more, as the API server's own authorizer judges it.
func TestInstallAppliesLeastPrivilege(t *testing.T) {
	env := kube.Start(t, kube.Options{})
	ctx := context.Background()
	for range 2 {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"install", "--kubeconfig", env.Kubeconfig})
		if err := root.Execute(); err != nil {
			t.Fatalf("install: %v\n%s", err, out.Bytes())
		}
		for _, want := range []string{"customresourcedefinition/rollouts.kanaria.dev applied", "deployment/kanaria-router in kanaria-system applied"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("install output lacks %q:\n%s", want, out.Bytes())
			}
		}
	}
	var d appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "kanaria-system", Name: "kanaria-controller"}, &d); err != nil {
		t.Fatalf("controller Deployment: %v", err)
	}
	if sa := d.Spec.Template.Spec.ServiceAccountName; sa != "kanaria-controller" || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/kanaria-dev/kanaria:latest" {
		t.Fatalf("controller Deployment: service account %q, image %q", sa, d.Spec.Template.Spec.Containers[0].Image)
	}

	type access struct {
		verb, group, resource, ns, name string
		allowed                         bool
	}
	check := func(sa string, want []access) {
		t.Helper()
		for _, a := range want {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   "system:serviceaccount:kanaria-system:" + sa,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kanaria-system", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: a.verb, Group: a.group, Resource: a.resource, Namespace: a.ns, Name: a.name,
				},
			}}
			if err := env.Client.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != a.allowed {
				t.Errorf("%s may %s %s.%s %s/%s: %v, want %v (%s)", sa, a.verb, a.resource, a.group, a.ns, a.name, sar.Status.Allowed, a.allowed, sar.Status.Reason)
			}
		}
	}
	check("kanaria-router", []access{
		{"watch", "kanaria.dev", "rollouts", "", "", true},
		{"list", "discovery.k8s.io", "endpointslices", "", "", true},
		{"list", "", "services", "shop", "", true},
		{"get", "", "secrets", "kanaria-system", "kanaria-router-salt", true},
		{"watch", "", "secrets", "kanaria-system", "kanaria-router-admin", true},
		{"watch", "", "secrets", "kanaria-system", "kanaria-router-override", true},
		{"update", "coordination.k8s.io", "leases", "kanaria-system", "kanaria-router-a", true},
		{"get", "", "secrets", "kanaria-system", "other", false},
		{"list", "", "secrets", "kanaria-system", "", false},
		{"update", "kanaria.dev", "rollouts", "shop", "web", false},
		{"update", "kanaria.dev", "rollouts/status", "shop", "web", false},
		{"patch", "apps", "deployments", "shop", "web", false},
		{"update", "coordination.k8s.io", "leases", "shop", "x", false},
	})
	check("kanaria-controller", []access{
		{"update", "kanaria.dev", "rollouts/status", "shop", "web", true},
		{"patch", "apps", "deployments", "shop", "web", true},
		{"create", "", "services", "shop", "", true},
		{"update", "gateway.networking.k8s.io", "httproutes", "shop", "web", true},
		{"create", "", "events", "shop", "", true},
		{"list", "coordination.k8s.io", "leases", "kanaria-system", "", true},
		{"get", "", "secrets", "shop", "x", false},
		{"get", "", "secrets", "kanaria-system", "kanaria-router-admin", true},
		{"get", "", "secrets", "kanaria-system", "kanaria-router-salt", false},
		{"list", "", "secrets", "kanaria-system", "", false},
		{"delete", "kanaria.dev", "rollouts", "shop", "web", false},
		{"create", "", "pods", "shop", "", false},
		{"update", "coordination.k8s.io", "leases", "shop", "x", false},
	})
}
