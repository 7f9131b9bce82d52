package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// notAppliedExitCode is the exit status when a command did not apply in the
// rollout's current state (the API's 409), e.g. pausing a paused rollout.
// It differs from 1 so scripts can tell "nothing to do" from a failure.
const notAppliedExitCode = 3

// notApplied is the CLI's form of a 409: the server's reason, prefixed with
// the rollout's name.
type notApplied struct{ msg string }

func (e notApplied) Error() string { return e.msg }

// ExitCode is read by Main.
func (e notApplied) ExitCode() int { return notAppliedExitCode }

// action describes one command that changes a rollout.
type action struct {
	kind  engine.CommandKind
	use   string
	short string
	long  string
	args  cobra.PositionalArgs
	// build fills in the command from the arguments and flags.
	build func(args []string) engine.Command
	// done says what happened, e.g. "paused".
	done func(cmd engine.Command, v wire.RolloutView) string
	// flags adds command-specific flags.
	flags func(cmd *cobra.Command)
	// after prints extra lines, e.g. where to watch.
	after func(cmd *cobra.Command, c *client.Client, v wire.RolloutView) error
}

// newActionCmd builds the cobra command for an action; every action shares
// the client flags, --reason, the rollout-selection rule and the 409
// wording.
func newActionCmd(a action) *cobra.Command {
	var f clientFlags
	var reason string
	cmd := &cobra.Command{
		Use:   a.use,
		Short: a.short,
		Long: a.long + "\n\nExit status " + fmt.Sprint(notAppliedExitCode) +
			" means the command did not apply in the rollout's current state (the reason is printed).",
		Args: a.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, name, err := f.connect(ctx)
			if err != nil {
				return err
			}
			command := engine.Command{Kind: a.kind}
			if a.build != nil {
				command = a.build(args)
				command.Kind = a.kind
			}
			command.Reason = reason
			v, err := c.Do(ctx, name, command)
			if client.IsConflict(err) {
				return notApplied{msg: withRolloutPrefix(name, err.Error())}
			}
			if err != nil {
				return err
			}
			if v.Note != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "rollout %s: nothing to do: %s; %s\n", name, v.Note, oneLine(v))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rollout %s: %s; %s\n", name, a.done(command, v), oneLine(v))
			if a.after != nil {
				return a.after(cmd, c, v)
			}
			return nil
		},
	}
	f.register(cmd, true, false)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the rollout's history")
	if a.flags != nil {
		a.flags(cmd)
	}
	return cmd
}

// withRolloutPrefix names the rollout unless the server's message already does.
func withRolloutPrefix(name, msg string) string {
	p := "rollout " + name
	if strings.HasPrefix(msg, p) {
		return msg
	}
	return p + ": " + msg
}
