package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
)

func init() { addCommand(newStopCmd) }

func newStopCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdStop,
		use:   "stop",
		short: "End the release: stable gets all traffic, the canary is removed",
		args:  cobra.NoArgs,
		done:  func(engine.Command, server.RolloutView) string { return "stopped" },
	})
}
