package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/kube/cluster"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/version"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newDashboardCmd) }

// cacheSyncTimeout bounds the first list of Rollouts and Events: a wrong
// context or missing permission should fail the command, not hang it.
const cacheSyncTimeout = 30 * time.Second

func newDashboardCmd() *cobra.Command {
	var k clusterFlags
	var listen string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the dashboard for a cluster's Rollouts on 127.0.0.1",
		Long: `Serves kanaria's dashboard for the Rollouts of one namespace of the cluster the
kubeconfig points at (as kubectl: --kubeconfig, --context, -n), on a loopback
address, until interrupted. It reads through the Kubernetes API with your
credentials: the page shows what you may read, and its buttons write the same
patches as kanaria promote, pause, resume, abort and undo.

It is behind a login: the URL it prints carries a random token, new on every
start, in its fragment (which the browser does not send to any server). While
it runs, kanaria start against the same namespace prints that URL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDashboard(ctx, cmd, &k, listen)
		},
	}
	k.register(cmd)
	cmd.Flags().Lookup("kubernetes").Hidden = true // always a cluster
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve on (port 0: a free one)")
	return cmd
}

func runDashboard(ctx context.Context, cmd *cobra.Command, k *clusterFlags, listen string) error {
	if err := requireLoopbackListen(listen); err != nil {
		return err
	}
	t, err := k.target()
	if err != nil {
		return err
	}
	// Rollouts and their Events from an informer cache: every open page
	// polls its backend several times a second, which must not become as
	// many requests to the API server.
	c, err := cache.New(t.cfg, cache.Options{
		Scheme:            cluster.Scheme(),
		DefaultNamespaces: map[string]cache.Config{t.namespace: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Event{}: {Field: rolloutEvents},
		},
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if err := cluster.IndexEvents(ctx, c); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	for _, obj := range []client.Object{&kanariav1alpha1.Rollout{}, &corev1.Event{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("dashboard: watching %T: %w", obj, err)
		}
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- c.Start(cacheCtx) }()
	syncCtx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	synced := c.WaitForCacheSync(syncCtx)
	cancel()
	if !synced {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dashboard: could not list the Rollouts and Events of namespace %s at %s within %v (the CRD installed? allowed to list them?)",
			t.namespace, t.cfg.Host, cacheSyncTimeout)
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	base := "http://" + ln.Addr().String()
	b, err := k.open(t, c, wire.Info{Version: version.String(), APIURL: base, DashboardURL: base + "/dashboard/"})
	if err != nil {
		ln.Close()
		return err
	}
	token := rand.Text()
	srv := server.New(b, token, server.Options{
		Logger: newLogger(cmd.ErrOrStderr(), ""),
		// The process's own metrics are not the cluster's: /metrics serves
		// nothing rather than a misleading page.
		Gatherer: prometheus.NewRegistry(),
	})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(srv.CloseStreams)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	link := dashboardLink(base, token, "")
	unregister, err := registerDashboard(t.cfg.Host, t.namespace, link)
	if err != nil {
		// kanaria start only loses a hint.
		fmt.Fprintf(cmd.ErrOrStderr(), "kanaria dashboard: %v\n", err)
	}
	defer unregister()
	fmt.Fprintf(cmd.OutOrStdout(), "kanaria dashboard: Rollouts of %s at %s\n%s\n(Ctrl-C stops it)\n", b.where(), t.cfg.Host, link)

	var result error
	select {
	case <-ctx.Done():
	case err := <-served:
		result = fmt.Errorf("dashboard: %w", err)
	case err := <-cacheDone:
		result = fmt.Errorf("dashboard: watching the API server: %w", err)
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	_ = hs.Shutdown(shutdownCtx)
	return result
}

// rolloutEvents selects, on the API server, only Events about Rollouts.
var rolloutEvents = fields.OneTermEqualSelector("involvedObject.kind", "Rollout")

// dashboardLink is the URL that logs a browser in: the token in the
// fragment, which the page reads and removes, then shows page (a
// "/rollouts/NAME" route; "" for the list).
func dashboardLink(base, token, page string) string {
	link := base + "/dashboard/#token=" + url.QueryEscape(token)
	if page != "" {
		link += "&" + page
	}
	return link
}

// requireLoopbackListen refuses an address other machines could reach: the
// dashboard acts with the user's own Kubernetes credentials.
func requireLoopbackListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address: the dashboard acts with your Kubernetes credentials (use 127.0.0.1:PORT)", addr)
}

// A running dashboard leaves a note so that `kanaria start` against the same
// cluster and namespace can print its link, as the seed's tool printed its
// dashboard's. The note holds the token, so it is written like the one-machine
// token file: mode 0600 in a directory only the user can read.

// dashboardNote is one running dashboard.
type dashboardNote struct {
	URL       string `json:"url"`
	PID       int    `json:"pid"`
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// dashboardNotePath is where the dashboard for host and namespace leaves
// its note: in $XDG_RUNTIME_DIR (per user, gone at logout) when set, else in
// the user's cache directory.
func dashboardNotePath(host, namespace string) (string, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256([]byte(host + "\n" + namespace))
	return filepath.Join(dir, "kanaria", "dashboards", hex.EncodeToString(sum[:8])+".json"), nil
}

// registerDashboard writes the note and returns what removes it.
func registerDashboard(host, namespace, link string) (func(), error) {
	nothing := func() {}
	p, err := dashboardNotePath(host, namespace)
	if err != nil {
		return nothing, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nothing, err
	}
	b, err := json.Marshal(dashboardNote{URL: link, PID: os.Getpid(), Server: host, Namespace: namespace})
	if err != nil {
		return nothing, err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nothing, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nothing, err
	}
	return func() { _ = os.Remove(p) }, nil
}

// runningDashboard returns the link of the dashboard serving host and
// namespace, if one is running.
func runningDashboard(host, namespace string) (string, bool) {
	p, err := dashboardNotePath(host, namespace)
	if err != nil {
		return "", false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", false
	}
	var n dashboardNote
	if json.Unmarshal(b, &n) != nil || n.Server != host || n.Namespace != namespace || n.URL == "" {
		return "", false
	}
	// A dashboard killed with SIGKILL leaves its note: the process must
	// still be there.
	if n.PID <= 0 || errors.Is(syscall.Kill(n.PID, 0), syscall.ESRCH) {
		return "", false
	}
	return n.URL, true
}
