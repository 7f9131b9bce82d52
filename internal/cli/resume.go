package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newResumeCmd) }

func newResumeCmd() *cobra.Command {
	return newActionCmd(action{
		kind:  engine.CmdResume,
		use:   "resume",
		short: "Continue a paused release",
		args:  cobra.NoArgs,
		done:  func(engine.Command, wire.RolloutView) string { return "resumed" },
	})
}
