package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newStopCmd) }

func newStopCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdStop,
		use:   "stop",
		short: "End the release: stable gets all traffic, the canary is removed",
		args:  cobra.NoArgs,
		done:  func(engine.Command, wire.RolloutView) string { return "stopped" },
	})
}
