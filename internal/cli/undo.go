package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
)

func init() { addCommand(newUndoCmd) }

func newUndoCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdUndo,
		use:   "undo",
		short: "Return to the previous stable revision",
		args:  cobra.NoArgs,
		done:  func(engine.Command, server.RolloutView) string { return "undone" },
	})
}
