package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newPromoteCmd) }

func newPromoteCmd() *cobra.Command {
	var full bool
	return newActionCmd(action{
		kind:  engine.CmdPromote,
		use:   "promote",
		short: "Go to the next step (or, with --full, finish the release now)",
		long:  "Promote ends the current pause and moves to the next step; --full skips all remaining steps.",
		args:  cobra.NoArgs,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().BoolVar(&full, "full", false, "skip all remaining steps and make the canary stable")
		},
		build: func([]string) engine.Command { return engine.Command{Full: full} },
		done: func(c engine.Command, _ wire.RolloutView) string {
			if c.Full {
				return "fully promoted"
			}
			return "promoted"
		},
	})
}
