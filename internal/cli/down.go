package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/dataplane"
)

func init() { addCommand(newDownCmd) }

// newDownCmd stops the data plane of a state directory: the router and
// every version's processes. It is idempotent: with nothing running it
// says so and succeeds.
func newDownCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the router and the versions' processes that kanaria up left running",
		Long: `Stop the data plane of a state directory: drain the router, stop every
version's processes, and exit. The data plane outlives kanaria up on purpose
(a crash of the control plane must not stop traffic); this is how it ends.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			c, err := dataplane.Connect(stateDir)
			if errors.Is(err, dataplane.ErrNotRunning) {
				fmt.Fprintf(out, "no data plane running for %s\n", stateDir)
				return nil
			}
			if err != nil {
				return err
			}
			info := c.Info()
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			n, err := c.Shutdown(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "stopped data plane pid %d: router %s drained, %d instance(s) stopped\n", info.PID, info.RouterURL, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state directory")
	return cmd
}
