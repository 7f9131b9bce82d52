// Package cli holds kanaria's cobra commands. Each command lives in its own
// file and registers itself with addCommand from an init function, so several
// people can add commands without touching one shared file.
package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

var registered []func() *cobra.Command

// addCommand registers a constructor for a top-level command.
func addCommand(f func() *cobra.Command) { registered = append(registered, f) }

// NewRoot builds the kanaria command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kanaria",
		Short:         "Progressive delivery: sticky ppm-weighted canaries, blue/green, its own router",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, f := range registered {
		root.AddCommand(f())
	}
	return root
}

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	// What a package logs without a logger of its own (the router's proxy,
	// the standard library's servers) reads like the rest.
	slog.SetDefault(newLogger(os.Stderr, ""))
	root := NewRoot()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kanaria:", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}
