package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newRouterCmd) }

// routerOpts are the flags of `kanaria router`; flags win over the file.
type routerOpts struct {
	file        string
	listen      string
	admin       string
	tokenFile   string
	allowRemote bool
	kube        routerKubeOpts
}

// Where the router listens when neither a flag nor the routes file says.
const defaultRouterListen = "127.0.0.1:8080"

func newRouterCmd() *cobra.Command {
	var o routerOpts
	cmd := &cobra.Command{
		Use:   "router -f routes.yaml | router --kubernetes",
		Short: "Run kanaria's router: a sticky, ppm-weighted reverse proxy with an admin API",
		Long: `Run kanaria's router from a routes file (see docs/router.md), or with
--kubernetes from the Rollouts of a cluster (see below).

The proxy listens on --listen (else the file's listen, else ` + defaultRouterListen + `).
The admin API and /metrics listen on --admin (else the file's admin; none
if both are empty), on loopback only unless --admin-allow-remote. Admin
requests need "Authorization: Bearer <token>" with the token from
--admin-token-file (else the file's adminTokenFile, else
.kanaria/router-admin-token next to the routes file); a missing token file
is created with a fresh token (mode 0600).

SIGHUP reloads the routes file in one atomic swap (and with tls: its
certificate and key: new handshakes get them, open connections carry on);
an invalid file or certificate is refused and the previous table keeps
serving. SIGTERM or SIGINT drains
in-flight requests and exits.

With --kubernetes the table follows the API server (--kubeconfig, else
$KUBECONFIG or ~/.kube/config, else the pod's service account): every
kanaria Rollout's status.traffic, with the ready addresses of its
Services' EndpointSlices, in --namespace (default all). The proxy
listens on --listen (default ` + defaultKubeRouterListen + `) and starts
answering once the first table is in. Every replica takes the salt from
the Secret --salt-secret (created with a random salt if missing), so all
assign a user alike, and publishes what it applied in its Lease
kanaria-router-<id> in --lease-namespace (default: the namespace of the
kubeconfig context or of the pod), renewed every 5 s and deleted on
exit. With POD_NAME and POD_UID in the environment the Lease is owned by
the pod. The admin API is read-only in this mode, with /readyz, and
serves each release's samples (GET /v1/releases/NAME/samples), which the
controller merges across replicas for analysis: --admin-token-secret
takes its token from a Secret (created with a random token if missing)
that the controller reads too. --override-secret names a Secret whose
key "secret" a request must present in X-Kanaria-Override-Secret for an
override to be honoured; overrides are off while it is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.kube.enabled {
				if o.file != "" {
					return errors.New("-f and --kubernetes exclude each other: with --kubernetes the table comes from the API server")
				}
				return runKubeRouter(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			if o.file == "" {
				return errors.New("a routes file is required: -f routes.yaml (or --kubernetes)")
			}
			return runRouter(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "routes file (YAML)")
	f.StringVar(&o.listen, "listen", "", "proxy address, overrides the file's listen")
	f.StringVar(&o.admin, "admin", "", "admin API address, overrides the file's admin")
	f.StringVar(&o.tokenFile, "admin-token-file", "", "file holding the admin bearer token (created if missing)")
	f.BoolVar(&o.allowRemote, "admin-allow-remote", false, "allow a non-loopback admin address")
	addKubeRouterFlags(f, &o.kube)
	return cmd
}

func runRouter(parent context.Context, o routerOpts, stdout, stderr io.Writer) error {
	if parent == nil {
		parent = context.Background()
	}
	cfg, err := router.LoadFile(o.file)
	if err != nil {
		return err
	}
	listen := firstOf(o.listen, cfg.Listen, defaultRouterListen)
	adminAddr := firstOf(o.admin, cfg.Admin)
	if adminAddr != "" && !o.allowRemote {
		if err := requireLoopback(adminAddr); err != nil {
			return err
		}
	}

	r, err := router.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", o.file, err)
	}
	defer r.Close()

	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
	defer stop()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	errs := make(chan error, 2)
	go func() { errs <- router.Serve(ctx, ln, r, cfg) }()
	running := 1

	adminURL := "admin disabled"
	if adminAddr != "" {
		tokenPath := o.tokenFile
		if tokenPath == "" {
			tokenPath = tokenPathFromConfig(o.file, cfg.AdminTokenFile)
		}
		token, created, err := wire.EnsureTokenFile(tokenPath)
		if err != nil {
			stop()
			<-errs
			return fmt.Errorf("router admin token: %w", err)
		}
		if created {
			fmt.Fprintf(stderr, "kanaria router: wrote a new admin token to %s\n", tokenPath)
		}
		aln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			stop()
			<-errs
			return fmt.Errorf("admin listener: %w", err)
		}
		adminCfg := cfg
		adminCfg.TLS = nil // the admin API is loopback HTTP; the proxy's certificate is not its
		go func() { errs <- router.Serve(ctx, aln, adminHandler(r, token), adminCfg) }()
		running++
		adminURL = "admin http://" + aln.Addr().String()
	}

	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "kanaria router: serving on %s://%s (%s)\n", scheme, ln.Addr(), adminURL)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var first error
	for running > 0 {
		select {
		case <-hup:
			reload(r, o.file, stderr)
		case err := <-errs:
			running--
			if err != nil && first == nil {
				first = err
				stop() // one listener failed: drain the other and exit
			}
		}
	}
	if first == nil {
		fmt.Fprintln(stderr, "kanaria router: drained, exiting")
	}
	return first
}

// reload swaps in the routes file's table, or keeps the old one and says why.
func reload(r *router.Router, path string, stderr io.Writer) {
	cfg, err := router.LoadFile(path)
	if err == nil {
		err = r.Update(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kanaria router: reload refused, still serving the previous table:\n%v\n", err)
		return
	}
	fmt.Fprintf(stderr, "kanaria router: reloaded %s\n", path)
}

// adminHandler serves /metrics (no token: it is for scrapers, and the
// listener is loopback by default) beside the authenticated admin API.
func adminHandler(r *router.Router, token string) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Telemetry(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", router.NewAdminHandler(r, token))
	return mux
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// requireLoopback refuses an admin or control API address that other machines
// could reach: those APIs change where real users' traffic goes.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q is not loopback: the API it serves changes where users' traffic goes (use 127.0.0.1:PORT)", addr)
}

// tokenPathFromConfig resolves the routes file's adminTokenFile relative to
// the routes file, so the same file works from any working directory.
func tokenPathFromConfig(routesFile, p string) string {
	if p == "" {
		p = filepath.Join(wire.DefaultStateDir, wire.RouterAdminTokenFile)
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(routesFile), p)
}
