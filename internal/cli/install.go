package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/config"
)

func init() { addCommand(newInstallCmd) }

// installFieldOwner is the field manager of kanaria install's server-side
// apply: a second install (or an upgrade) owns the same fields.
const installFieldOwner = "kanaria-install"

func newInstallCmd() *cobra.Command {
	var dryRun bool
	var k clusterFlags
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install kanaria in a Kubernetes cluster: CRD, RBAC, controller and router",
		Long: `Install applies (server-side) kanaria's manifests to the cluster the kubeconfig
points at: the Rollout CRD, least-privilege RBAC, the controller Deployment and the
router Deployment and Service, in namespace kanaria-system. --dry-run prints them
instead. They are exactly what 'kubectl kustomize config' renders from the
repository's config/ folder, so 'kubectl apply --server-side -k config' is the same
install.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dryRun {
				_, err := cmd.OutOrStdout().Write(config.InstallYAML)
				return err
			}
			t, err := k.target()
			if err != nil {
				return err
			}
			c, err := client.New(t.cfg, client.Options{})
			if err != nil {
				return fmt.Errorf("kubernetes client for %s: %w", t.cfg.Host, err)
			}
			objs, err := installObjects()
			if err != nil {
				return err
			}
			return apply(cmd.Context(), c, objs, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them")
	k.register(cmd)
	// The manifests name their namespace, and this is always a cluster.
	for _, name := range []string{"namespace", "kubernetes"} {
		cmd.Flags().Lookup(name).Hidden = true
	}
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("namespace") {
			return errors.New("-n: the manifests install into namespace kanaria-system (change it with a kustomize overlay of config/)")
		}
		return nil
	}
	return cmd
}

// installObjects are the manifests' objects, in their order (kustomize puts
// namespaces and CRDs first).
func installObjects() ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(config.InstallYAML), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the embedded manifests: %w", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// apply server-side applies objs in order, printing one line per object as
// kubectl does.
func apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, out io.Writer) error {
	for _, u := range objs {
		what := strings.ToLower(u.GetKind()) + "/" + u.GetName()
		if ns := u.GetNamespace(); ns != "" {
			what += " in " + ns
		}
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(installFieldOwner), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("applying %s: %w", what, err)
		}
		fmt.Fprintf(out, "%s applied\n", what)
	}
	fmt.Fprintln(out, "kanaria installed; its pods: kubectl -n kanaria-system get pods -l app.kubernetes.io/part-of=kanaria")
	return nil
}
