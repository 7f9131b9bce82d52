package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newUndoCmd) }

func newUndoCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdUndo,
		use:   "undo",
		short: "Return to the previous stable revision",
		args:  cobra.NoArgs,
		done:  func(engine.Command, wire.RolloutView) string { return "undone" },
	})
}
