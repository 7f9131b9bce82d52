// Package cli holds kanaria's cobra commands. Each command lives in its own
// file and registers itself with addCommand from an init function, so several
// people can add commands without touching one shared file.
package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

var registered []func() *cobra.Command

// addCommand registers a constructor for a top-level command.
func addCommand(f func() *cobra.Command) { registered = append(registered, f) }

// NewRoot builds the kanaria command tree.
func NewRoot() *cobra.Command { return newRoot("kanaria") }

// pluginName is how kubectl runs kanaria as a plugin: an executable named
// kubectl-kanaria on PATH (a copy of this binary or a symlink to it) is
// `kubectl kanaria`.
const (
	pluginExecutable = "kubectl-kanaria"
	pluginName       = "kubectl kanaria"
)

// newRoot builds the command tree shown as name in usage and help
// ("kanaria", or pluginName).
func newRoot(name string) *cobra.Command {
	root := &cobra.Command{
		Use:           "kanaria",
		Short:         "Progressive delivery: sticky ppm-weighted canaries, blue/green, its own router",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
	}
	for _, f := range registered {
		root.AddCommand(f())
	}
	return root
}

// invokedAsPlugin reports whether cmd runs as `kubectl kanaria`, where the
// user means a cluster.
func invokedAsPlugin(cmd *cobra.Command) bool { return rootName(cmd) == pluginName }

// rootName is "kanaria" or "kubectl kanaria", for the commands kanaria
// suggests.
func rootName(cmd *cobra.Command) string { return cmd.Root().DisplayName() }

// Main runs the CLI and returns the process exit code. argv0 is the
// program's name as run (os.Args[0]): as kubectl-kanaria it is the kubectl
// plugin.
func Main(argv0 string, args []string) int {
	// What a package logs without a logger of its own (the router's proxy,
	// the standard library's servers) reads like the rest.
	slog.SetDefault(newLogger(os.Stderr, ""))
	name := "kanaria"
	if strings.TrimSuffix(filepath.Base(argv0), ".exe") == pluginExecutable {
		name = pluginName
	}
	root := newRoot(name)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}
