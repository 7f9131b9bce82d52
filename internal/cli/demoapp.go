package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/demoapp"
)

func init() { addCommand(newDemoAppCmd) }

// demoAppShutdownGrace bounds how long in-flight requests may finish after
// SIGTERM; it is below the supervisor's usual kill grace so we exit cleanly.
const demoAppShutdownGrace = 5 * time.Second

func newDemoAppCmd() *cobra.Command {
	var (
		o         demoapp.Options
		port      int
		host      string
		rateFor   []string
		readyFile string
	)
	cmd := &cobra.Command{
		Use:   "demo-app",
		Short: "Serve kanaria's tiny demo application for one revision",
		Long: `Serve kanaria's tiny demo application: GET / says "hello from <revision>",
/healthz is always 200, /api/info describes the configuration. --error-rate and
--latency make a revision deliberately bad; --error-rate-for lets one command
template (e.g. "kanaria demo-app --revision {{.Revision}} --port {{.Port}}
--error-rate-for v3=0.5") make only some revisions bad.`,
		Example: `  kanaria demo-app --revision v1 --port 9001
  kanaria demo-app --revision v3 --port 9003 --error-rate 0.01 --error-rate-for v3=0.5 --latency 20ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Revision == "" {
				return errors.New("--revision is required")
			}
			if !cmd.Flags().Changed("port") {
				return errors.New("--port is required (0 picks a free port)")
			}
			overrides, err := parseErrorRateFor(rateFor)
			if err != nil {
				return err
			}
			if r, ok := overrides[o.Revision]; ok {
				o.ErrorRate = r
			}
			if o.ErrorRate < 0 || o.ErrorRate > 1 {
				return fmt.Errorf("--error-rate %v: must be between 0 and 1", o.ErrorRate)
			}
			if o.Latency < 0 || o.LatencyJitter < 0 {
				return errors.New("--latency and --latency-jitter must not be negative")
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return serveDemoApp(ctx, ln, o, cmd, readyFile)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Revision, "revision", "", "revision this process serves (required)")
	f.IntVar(&port, "port", 0, "TCP port to listen on (required; 0 picks a free one)")
	f.StringVar(&host, "listen-host", "127.0.0.1", "address to listen on")
	f.Float64Var(&o.ErrorRate, "error-rate", 0, "probability (0..1) that GET / answers 500")
	f.StringArrayVar(&rateFor, "error-rate-for", nil, "REV=RATE: error rate for one revision, overriding --error-rate (repeatable)")
	f.DurationVar(&o.Latency, "latency", 0, "delay added to each request")
	f.DurationVar(&o.LatencyJitter, "latency-jitter", 0, "extra uniform random delay up to this much")
	f.Int64Var(&o.Seed, "seed", 0, "random seed for errors and jitter (0: random per process)")
	f.StringVar(&readyFile, "ready-file", "", "write the listening address to this file once serving (for scripts using --port 0)")
	return cmd
}

// parseErrorRateFor turns repeated "REV=RATE" flags into a map.
func parseErrorRateFor(items []string) (map[string]float64, error) {
	m := make(map[string]float64, len(items))
	for _, it := range items {
		rev, val, ok := strings.Cut(it, "=")
		if !ok || rev == "" {
			return nil, fmt.Errorf("--error-rate-for %q: want REV=RATE, e.g. v3=0.5", it)
		}
		r, err := strconv.ParseFloat(val, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("--error-rate-for %q: rate must be a number between 0 and 1", it)
		}
		m[rev] = r
	}
	return m, nil
}

// serveDemoApp serves until ctx ends (SIGTERM), then drains in-flight
// requests so a release's last samples are not turned into errors.
func serveDemoApp(ctx context.Context, ln net.Listener, o demoapp.Options, cmd *cobra.Command, readyFile string) error {
	srv := &http.Server{Handler: demoapp.Handler(o), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	fmt.Fprintf(cmd.OutOrStdout(), "demo-app %s listening on http://%s (error rate %g, latency %v+%v)\n",
		o.Revision, addr, o.ErrorRate, o.Latency, o.LatencyJitter)
	if readyFile != "" {
		if err := os.WriteFile(readyFile, []byte(addr+"\n"), 0o644); err != nil {
			srv.Close()
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), demoAppShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("demo-app %s: shutdown: %w", o.Revision, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "demo-app %s stopped\n", o.Revision)
	return nil
}
