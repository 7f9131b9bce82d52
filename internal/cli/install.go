package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/config"
)

func init() { addCommand(newInstallCmd) }

func newInstallCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install kanaria in a Kubernetes cluster: CRD, RBAC, controller and router",
		Long: `Install prints (--dry-run) the manifests of kanaria on Kubernetes: the Rollout
CRD, least-privilege RBAC, the controller Deployment and the router Deployment and
Service, in namespace kanaria-system. They are exactly what
'kubectl kustomize config' renders from the repository's config/ folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !dryRun {
				return errors.New("install needs --dry-run for now: kanaria install --dry-run | kubectl apply --server-side -f -")
			}
			_, err := cmd.OutOrStdout().Write(config.InstallYAML)
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them")
	return cmd
}
