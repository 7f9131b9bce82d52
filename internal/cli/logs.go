package cli

import (
	"github.com/spf13/cobra"
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
			"Without --revision the control plane picks the canary, else the stable revision.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := f.client()
			if err != nil {
				return err
			}
			name, err := f.rolloutName(ctx, c)
			if err != nil {
				return err
			}
			return c.Logs(ctx, name, revision, baseline, tail, cmd.OutOrStdout())
		},
	}
	f.register(cmd, true, false)
	cmd.Flags().StringVar(&revision, "revision", "", "revision whose output to show")
	cmd.Flags().BoolVar(&baseline, "baseline", false, "show the baseline copy's output instead")
	cmd.Flags().IntVar(&tail, "tail", 100, "number of lines")
	return cmd
}
