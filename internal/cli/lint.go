package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/spec"
)

func init() { addCommand(newLintCmd) }

// lintFailed carries lint's exit code; the problems are already printed one
// per line, so Main only adds its own short line.
type lintFailed struct{ n int }

func (e lintFailed) Error() string {
	if e.n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", e.n)
}

// ExitCode makes Main exit 1 for an invalid spec.
func (e lintFailed) ExitCode() int { return 1 }

func newLintCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Check a kanaria.yaml: every error with file:line:col and field path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := spec.LoadFile(file)
			if err != nil {
				var list spec.ErrorList
				if !errors.As(err, &list) {
					return err // unreadable file: Main prints it
				}
				for _, e := range list {
					fmt.Fprintln(cmd.OutOrStdout(), e)
				}
				return lintFailed{len(list)}
			}
			noun := "rollouts"
			if len(rs) == 1 {
				noun = "rollout"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d %s OK\n", file, len(rs), noun)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "kanaria.yaml", "spec file to check")
	return cmd
}
