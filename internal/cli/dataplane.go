package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/dataplane"
)

func init() { addCommand(newDataplaneCmd) }

// newDataplaneCmd is the process that holds the router and the versions'
// processes, apart from the control plane so that a crash of the control
// plane stops neither traffic nor applications. The control plane starts it
// (dataplane.Ensure); users do not, hence hidden.
func newDataplaneCmd() *cobra.Command {
	var stateDir, listen string
	cmd := &cobra.Command{
		Use:    "dataplane",
		Short:  "Run the router and the versions' processes for a control plane (started by kanaria up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGTERM and SIGINT stop everything, as POST /v1/shutdown
			// does. SIGHUP is ignored: the data plane has no terminal of
			// its own and must survive the one it was started from.
			signal.Ignore(syscall.SIGHUP)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return dataplane.Run(ctx, dataplane.Options{
				StateDir: stateDir,
				Listen:   listen,
				Logger:   newLogger(cmd.ErrOrStderr(), "dataplane: "),
			})
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "state directory (socket, logs, token)")
	cmd.Flags().StringVar(&listen, "listen", defaultRouterListen, "router listen address")
	return cmd
}
