package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newAbortCmd) }

func newAbortCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdAbort,
		use:   "abort",
		short: "Stop the canary now: stable gets all traffic",
		args:  cobra.NoArgs,
		done:  func(engine.Command, wire.RolloutView) string { return "aborted" },
	})
}
