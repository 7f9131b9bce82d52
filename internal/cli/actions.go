package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	after func(cmd *cobra.Command, b backend, v wire.RolloutView) error
}

// newActionCmd builds the cobra command for an action; every action shares
// the backend flags, --reason, --wait, the rollout-selection rule and the
// 409 wording.
func newActionCmd(a action) *cobra.Command {
	var f clientFlags
	var reason string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   a.use,
		Short: a.short,
		Long: a.long + "\n\nAgainst a cluster the command is a patch of the Rollout that kanaria controller\n" +
			"carries out (start: spec.revision; pause, resume: spec.paused; the others: the\n" +
			"kanaria.dev/command annotation); --wait waits for the controller to act on it.\n\n" +
			"Exit status " + fmt.Sprint(notAppliedExitCode) +
			" means the command did not apply in the rollout's current state (the reason is printed).",
		Args: a.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, name, err := f.connect(cmd)
			if err != nil {
				return err
			}
			command := engine.Command{Kind: a.kind}
			if a.build != nil {
				command = a.build(args)
				command.Kind = a.kind
			}
			command.Reason = reason
			out := cmd.OutOrStdout()
			var v wire.RolloutView
			switch b := b.(type) {
			case clusterBackend:
				if reason != "" {
					return errors.New("--reason is recorded by a control plane; a cluster's Rollout has no field for it (the controller records each command as an Event)")
				}
				req, view, err := doOnCluster(cmd, b, name, command, wait)
				if isConflict(err) {
					return notApplied{msg: withRolloutPrefix(name, err.Error())}
				}
				switch {
				case req.Patch == "" && err == nil:
					fmt.Fprintf(out, "rollout %s: nothing to do: %s; %s\n", name, view.Note, oneLine(view))
					return nil
				case req.Patch != "" && (wait <= 0 || err != nil):
					fmt.Fprintf(out, "rollout %s: %s requested (%s); %s\n", name, commandName(command), req.Patch, oneLine(view))
				}
				if err != nil {
					return err
				}
				if wait > 0 {
					fmt.Fprintf(out, "rollout %s: %s (%s, acted on by the controller); %s\n", name, a.done(command, view), req.Patch, oneLine(view))
				}
				v = view
			case apiBackend:
				v, err = b.Do(cmd.Context(), name, command)
				if isConflict(err) {
					return notApplied{msg: withRolloutPrefix(name, err.Error())}
				}
				if err != nil {
					return err
				}
				if v.Note != "" {
					fmt.Fprintf(out, "rollout %s: nothing to do: %s; %s\n", name, v.Note, oneLine(v))
					return nil
				}
				fmt.Fprintf(out, "rollout %s: %s; %s\n", name, a.done(command, v), oneLine(v))
			}
			if a.after != nil {
				return a.after(cmd, b, v)
			}
			return nil
		},
	}
	f.register(cmd, true, false)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the rollout's history (control plane only)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "against a cluster: wait up to this long for the controller to act on the command (0: return once it is written)")
	if a.flags != nil {
		a.flags(cmd)
	}
	return cmd
}

// commandName is the command as the user typed it: "promote --full".
func commandName(c engine.Command) string {
	if c.Kind == engine.CmdPromote && c.Full {
		return "promote --full"
	}
	if c.Kind == engine.CmdStart {
		return "start " + c.Revision
	}
	return string(c.Kind)
}

// withRolloutPrefix names the rollout unless the server's message already does.
func withRolloutPrefix(name, msg string) string {
	p := "rollout " + name
	if strings.HasPrefix(msg, p) {
		return msg
	}
	return p + ": " + msg
}
