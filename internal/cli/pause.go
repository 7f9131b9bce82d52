package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newPauseCmd) }

func newPauseCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdPause,
		use:   "pause",
		short: "Pause the release at its current step",
		args:  cobra.NoArgs,
		done:  func(engine.Command, wire.RolloutView) string { return "paused" },
	})
}
