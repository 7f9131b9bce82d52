package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
)

func init() { addCommand(newLogsCmd) }

func newLogsCmd() *cobra.Command {
	var f clientFlags
	var revision string
	var baseline bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print the last lines of a revision's output",
		Long: "Print the last lines that a revision's instances wrote (local platform).\n" +
			"Without --revision: the canary while a release is in progress, else the stable revision.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, name, err := f.connect(cmd)
			if err != nil {
				return err
			}
			rev := revision
			if rev == "" {
				// Chosen here rather than by the server so the user sees
				// which revision's output this is.
				v, err := c.Get(ctx, name)
				if err != nil {
					return err
				}
				rev = v.Status.StableRevision
				if releasing(v.Status) {
					rev = v.Status.CanaryRevision
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "logs of %s\n", engine.VersionKey(rev, baseline))
			}
			return c.Logs(ctx, name, rev, baseline, tail, cmd.OutOrStdout())
		},
	}
	f.register(cmd, true, false)
	cmd.Flags().StringVar(&revision, "revision", "", "revision whose output to show")
	cmd.Flags().BoolVar(&baseline, "baseline", false, "show the baseline copy's output instead")
	cmd.Flags().IntVar(&tail, "tail", 100, "number of lines")
	return cmd
}
