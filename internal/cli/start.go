package cli

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newStartCmd) }

func newStartCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdStart,
		use:   "start REVISION",
		short: "Begin releasing a revision",
		long:  "Start releasing REVISION beside the stable revision, through the rollout's steps.",
		args:  cobra.ExactArgs(1),
		build: func(args []string) engine.Command { return engine.Command{Revision: args[0]} },
		done: func(cmd engine.Command, v wire.RolloutView) string {
			return fmt.Sprintf("started releasing %s (stable %s)", cmd.Revision, v.Status.StableRevision)
		},
		after: printWhereToWatch,
	})
}

// printWhereToWatch tells the user how to follow the release they started:
// the watch command, the router, the dashboard's link.
func printWhereToWatch(cmd *cobra.Command, b backend, v wire.RolloutView) error {
	w := cmd.OutOrStdout()
	if cb, ok := b.(clusterBackend); ok {
		fmt.Fprintf(w, "watch: %s\n", cb.commandLine(cmd, "status -w -r "+v.Name))
		if link, ok := runningDashboard(cb.host, cb.Namespace()); ok {
			fmt.Fprintf(w, "dashboard: %s\n", link+"&/rollouts/"+url.PathEscape(v.Name))
		} else {
			fmt.Fprintf(w, "dashboard: %s (serves it on 127.0.0.1 and prints its link)\n", cb.commandLine(cmd, "dashboard"))
		}
		return nil
	}
	c := b.(apiBackend)
	fmt.Fprintf(w, "watch: kanaria status -w -r %s\n", v.Name)
	router := v.RouterURL
	info, err := c.Info(cmd.Context())
	if err == nil && router == "" {
		router = info.RouterURL
	}
	if router != "" {
		fmt.Fprintf(w, "router: %s\n", router)
	}
	if err == nil && info.DashboardURL != "" {
		fmt.Fprintf(w, "dashboard: %s\n", info.DashboardURL)
	}
	return nil // the release started; a failed Info only loses a hint
}
