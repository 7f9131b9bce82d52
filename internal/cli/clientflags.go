package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// clientFlags are the flags every command that talks to a running control
// plane shares: where to find it, which rollout, and how to print data.
type clientFlags struct {
	stateDir  string
	serverURL string
	tokenFile string
	rollout   string
	output    string
	// cluster chooses a Kubernetes cluster instead (backend.go); only
	// commands about rollouts have its flags.
	cluster clusterFlags
}

// defaultStateDir is where `kanaria up` keeps its state unless told
// otherwise; the CLI must look in the same place.
func defaultStateDir() string {
	if d := os.Getenv(wire.StateDirEnv); d != "" {
		return d
	}
	return wire.DefaultStateDir
}

// register adds the shared flags to cmd. withRollout is false for commands
// about the control plane itself (version); the others also work against a
// cluster and get its flags. withOutput only where the output is data meant
// for scripts.
func (f *clientFlags) register(cmd *cobra.Command, withRollout, withOutput bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "state directory of `kanaria up` (env KANARIA_STATE_DIR)")
	fl.StringVar(&f.serverURL, "server", "", "control plane API URL (default: read from STATE_DIR/endpoint)")
	fl.StringVar(&f.tokenFile, "token-file", "", "API token file (default: STATE_DIR/token)")
	if withRollout {
		fl.StringVarP(&f.rollout, "rollout", "r", "", "rollout name (default: the only rollout)")
		_ = cmd.RegisterFlagCompletionFunc("rollout", f.completeRollouts)
		f.cluster.register(cmd)
	}
	if withOutput {
		fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json or yaml")
		_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
			[]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	}
}

// client connects as the flags say: --server and --token-file win over
// what `kanaria up` wrote into the state directory.
func (f *clientFlags) client() (*client.Client, error) {
	if err := f.checkOutput(); err != nil {
		return nil, err
	}
	return client.Discover(f.stateDir, f.serverURL, f.tokenFile)
}

// checkOutput refuses an unknown -o before anything is changed.
func (f *clientFlags) checkOutput() error {
	switch f.output {
	case "", "table", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table, json or yaml)", f.output)
}

// connect opens the backend and picks the rollout: what every command
// about one rollout does first.
func (f *clientFlags) connect(cmd *cobra.Command) (backend, string, error) {
	b, err := f.backend(cmd)
	if err != nil {
		return nil, "", err
	}
	name, err := f.rolloutName(cmd.Context(), b)
	if err != nil {
		return nil, "", err
	}
	return b, name, nil
}

// rolloutName applies the selection rule: -r if given, else the only
// rollout; with several, the user must choose, and is told the choices.
func (f *clientFlags) rolloutName(ctx context.Context, b backend) (string, error) {
	if f.rollout != "" {
		return f.rollout, nil
	}
	views, err := b.List(ctx)
	if err != nil {
		return "", err
	}
	switch len(views) {
	case 0:
		return "", fmt.Errorf("%s has no rollouts", b.where())
	case 1:
		return views[0].Name, nil
	}
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.Name
	}
	sort.Strings(names)
	return "", fmt.Errorf("%d rollouts (%s): choose one with -r NAME", len(names), strings.Join(names, ", "))
}

// completeRollouts offers the rollout names of the backend the flags
// choose.
func (f *clientFlags) completeRollouts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	b, err := f.backend(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	views, err := b.List(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// printData writes v as JSON or YAML when -o asks for it, and reports
// whether it did; otherwise the caller prints its table. YAML is converted
// from the JSON so both formats carry the same field names.
func (f *clientFlags) printData(w io.Writer, v any) (bool, error) {
	switch f.output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return true, err
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return true, err
		}
		_, err = w.Write(y)
		return true, err
	}
	return false, nil
}
