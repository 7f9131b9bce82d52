package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/controlplane"
	"github.com/kanaria-dev/kanaria/internal/dataplane"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newUpCmd) }

// upOptions are what `kanaria up` needs; `kanaria demo` fills them too.
type upOptions struct {
	File     string
	Rollouts []v1alpha1.Rollout // used instead of File when set
	Listen   string             // router
	API      string             // control-plane API
	StateDir string
	Tick     time.Duration
	Verbose  bool
}

// upRunning is what a started control plane tells its caller.
type upRunning struct {
	RouterURL, APIURL, StateDir, Token string
}

// The control plane is the API's backend, with history and analyses: an
// optional interface it stopped implementing would silently turn off the
// dashboard's charts.
var _ interface {
	server.Backend
	server.HistoryBackend
	server.AnalysisBackend
} = (*controlplane.ControlPlane)(nil)

func newUpCmd() *cobra.Command {
	o := upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the control plane, the router and the versions of every rollout in kanaria.yaml",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, o, cmd.OutOrStdout(), func(r upRunning) {
				fmt.Fprintf(cmd.OutOrStdout(), "kanaria up: router %s, API %s, state %s\n", r.RouterURL, r.APIURL, r.StateDir)
				fmt.Fprintf(cmd.OutOrStdout(), "dashboard: %s/dashboard/ (log in with the token in %s)\n", r.APIURL, filepath.Join(r.StateDir, wire.TokenFile))
				fmt.Fprintf(cmd.OutOrStdout(), "next: kanaria start <revision>; watch: kanaria status -w\n")
			})
		},
	}
	cmd.Flags().StringVarP(&o.File, "file", "f", "kanaria.yaml", "rollouts file")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "router listen address")
	cmd.Flags().StringVar(&o.API, "api", "127.0.0.1:7070", "control-plane API address (loopback)")
	cmd.Flags().StringVar(&o.StateDir, "state-dir", defaultStateDir(), "state directory (database, token, logs)")
	cmd.Flags().DurationVar(&o.Tick, "tick", 200*time.Millisecond, "reconcile interval")
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", true, "log transitions")
	return cmd
}

// runUp runs a whole control plane until ctx ends, then drains the router,
// stops the versions it started and closes the store.
func runUp(ctx context.Context, o upOptions, logw io.Writer, ready func(upRunning)) error {
	rollouts := o.Rollouts
	if rollouts == nil {
		var err error
		if rollouts, err = spec.LoadFile(o.File); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return err
	}
	unlock, err := lockStateDir(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := requireLoopback(o.API); err != nil {
		return fmt.Errorf("--api: %w", err)
	}
	apiLn, err := net.Listen("tcp", o.API)
	if err != nil {
		return fmt.Errorf("API listen: %w", err)
	}
	defer apiLn.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The router and the versions run in a data-plane process that outlives
	// this one: after a kill -9 of `up` users are still served, and the next
	// `up` reattaches to it.
	dp, err := dataplane.Ensure(ctx, o.StateDir, dataplane.StartOptions{KanariaPath: self, Listen: o.Listen})
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	defer dp.Close()
	started := false
	defer func() {
		if !started { // failed before serving: leave nothing running
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dp.Shutdown(ctx)
		}
	}()
	run := upRunning{RouterURL: dp.RouterURL(), APIURL: "http://" + apiLn.Addr().String()}
	run.StateDir, _ = filepath.Abs(o.StateDir)

	log := slog.New(slog.DiscardHandler)
	if o.Verbose {
		log = newLogger(logw, "")
	}
	cp, err := controlplane.New(ctx, controlplane.Options{
		StateDir: o.StateDir, Rollouts: rollouts, RouterURL: run.RouterURL, APIURL: run.APIURL,
		DataPlane: dp, Tick: o.Tick, Logger: log,
	})
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: a hung notification receiver must not hold the exit.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cp.Close(ctx)
	}()
	if run.Token, err = wire.EnsureToken(o.StateDir); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := server.New(cp, run.Token, server.Options{Gatherer: prometheus.Gatherers{reg, dp.Gatherer()}})
	api := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	// Open dashboard and watch streams would otherwise hold Shutdown.
	api.RegisterOnShutdown(srv.CloseStreams)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		if err := api.Serve(apiLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	go func() { errc <- cp.Run(ctx) }()
	if err := wire.WriteEndpoint(o.StateDir, run.APIURL); err != nil {
		return err
	}
	started = true
	ready(run)

	var firstErr error
	select {
	case <-ctx.Done():
	case firstErr = <-errc:
	}
	cancel()
	// A clean stop (Ctrl-C, SIGTERM) ends everything `up` started: the API,
	// then the data plane, which drains the router and stops the versions.
	shutdownCtx, done := context.WithTimeout(context.Background(), 60*time.Second)
	defer done()
	api.Shutdown(shutdownCtx)
	if _, err := dp.Shutdown(shutdownCtx); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("stop data plane: %w", err)
	}
	return firstErr
}

// lockStateDir makes sure only one control plane uses a state directory.
func lockStateDir(dir string) (func(), error) {
	unlock, held, err := wire.TryLock(filepath.Join(dir, wire.LockFile))
	if held {
		return nil, fmt.Errorf("state dir %s is in use by another kanaria up", dir)
	}
	return unlock, err
}
