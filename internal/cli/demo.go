package cli

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

//go:embed demodata/kanaria.yaml
var demoSpec string

func init() { addCommand(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var (
		auto     bool
		pause    time.Duration
		stateDir string
		listen   string
		api      string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained example release (kanaria serves its own demo app)",
		Long: "demo starts a control plane with one rollout, \"demo\", whose revisions are kanaria's own demo app.\n" +
			"With --auto it releases v1 -> v2 through every step on loopback, checks the split with real\n" +
			"requests, promotes, undoes, lets analysis roll back a bad v3 under its own traffic, prints a summary\n" +
			"and exits 0 when all went as expected; the summary states the verdict v2's analysis step got.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rollouts, err := demoRollouts(pause)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			if !auto {
				return runUp(ctx, upOptions{Rollouts: rollouts, Listen: listen, API: api, StateDir: stateDir, Verbose: true}, out,
					func(r upRunning) { printDemoHelp(out, r) })
			}
			if stateDir == "" {
				dir, err := os.MkdirTemp("", "kanaria-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				stateDir = dir
			}
			return runDemoAuto(ctx, rollouts, stateDir, out)
		},
	}
	cmd.Flags().BoolVar(&auto, "auto", false, "run a scripted release end to end and exit")
	cmd.Flags().DurationVar(&pause, "pause", 0, "duration of the timed pause steps (default 1s with --auto, 20s without)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "state directory (default .kanaria-demo; a temporary one with --auto)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "router address (without --auto)")
	cmd.Flags().StringVar(&api, "api", "127.0.0.1:7070", "API address (without --auto)")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if pause == 0 {
			pause = 20 * time.Second
			if auto {
				pause = time.Second
			}
		}
		if stateDir == "" && !auto {
			stateDir = defaultStateDir()
		}
	}
	return cmd
}

// demoRollouts is the embedded demo spec with its pause durations filled in.
func demoRollouts(pause time.Duration) ([]v1alpha1.Rollout, error) {
	text := strings.ReplaceAll(demoSpec, "PAUSE", pause.String())
	return spec.Parse("demo/kanaria.yaml", []byte(text))
}

func printDemoHelp(w io.Writer, r upRunning) {
	fmt.Fprintf(w, `kanaria demo: rollout "demo" serves v1 at %[1]s (API %[2]s, state %[3]s)

dashboard: %[2]s/dashboard/ (log in with the token in %[3]s/token)

try, in another terminal (same directory):
  curl -si %[1]s/                         # served by v1; note X-Kanaria-Version and the kanaria_id cookie
  kanaria start v2                        # release v2: 0.1%% -> 1%% -> 10%% (waits) -> 50%% -> 100%%
  kanaria status -w                       # watch it
  curl -s -H 'X-Kanaria-Override: canary' %[1]s/   # see the canary yourself
  kanaria verify --url %[1]s/ --requests 2000      # prove the split with real requests
  kanaria promote                         # past the waiting pause
  kanaria start v3                        # v3 answers 30%% errors: with traffic flowing, analysis rolls it back
  kanaria analysis                        # the verdicts with the numbers behind them
  kanaria undo                            # after a finished release: back to the previous revision
`, r.RouterURL, r.APIURL, r.StateDir)
}
