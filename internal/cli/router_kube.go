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
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kanaria-dev/kanaria/internal/kube/routersync"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/traffic"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Where the router listens in a cluster unless --listen says: every
// address of the pod, since the router's Service sends users to it.
const defaultKubeRouterListen = ":8080"

// routerKubeOpts are the flags of `kanaria router --kubernetes`.
type routerKubeOpts struct {
	enabled        bool
	kubeconfig     string
	kubeContext    string
	namespace      string
	id             string
	leaseNamespace string
	saltSecret     string
	adminSecret    string
	overrideSecret string
	adminURL       string
}

func addKubeRouterFlags(f *pflag.FlagSet, o *routerKubeOpts) {
	f.BoolVar(&o.enabled, "kubernetes", false, "follow the Rollouts of a Kubernetes cluster instead of a routes file")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (with --kubernetes; default $KUBECONFIG, ~/.kube/config or the pod's service account)")
	f.StringVar(&o.kubeContext, "context", "", "kubeconfig context (with --kubernetes; default the current one)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "serve the Rollouts of this namespace only (with --kubernetes; default all)")
	f.StringVar(&o.id, "id", "", "this replica's name, in its Lease kanaria-router-<id> (with --kubernetes; default the host name)")
	f.StringVar(&o.leaseNamespace, "lease-namespace", "", "namespace of this replica's Lease (with --kubernetes; default the kubeconfig's or the pod's namespace)")
	f.StringVar(&o.saltSecret, "salt-secret", "", "NAMESPACE/NAME of the Secret holding the salt under key \"salt\" (with --kubernetes; default <lease namespace>/"+routersync.DefaultSaltSecret+")")
	f.StringVar(&o.adminSecret, "admin-token-secret", "", "NAMESPACE/NAME of the Secret holding the admin API token under key \""+routersync.AdminTokenKey+"\", created with a random token if missing; the controller reads it to merge every replica's samples (with --kubernetes; instead of --admin-token-file; the install uses <namespace>/"+routersync.DefaultAdminTokenSecret+")")
	f.StringVar(&o.overrideSecret, "override-secret", "", "NAMESPACE/NAME of the Secret whose key \""+routersync.OverrideSecretKey+"\" a request must present in X-Kanaria-Override-Secret for an override to be honoured; overrides are off while it is missing (with --kubernetes; default: overrides need no secret)")
	f.StringVar(&o.adminURL, "admin-url", "", "admin API URL published in the Lease (with --kubernetes; default from --admin, an unspecified host replaced by $POD_IP)")
}

func runKubeRouter(parent context.Context, o routerOpts, stdout, stderr io.Writer) error {
	if parent == nil {
		parent = context.Background()
	}
	k := o.kube
	log := newLogger(stderr, "")
	// client-go and controller-runtime log through klog and logr; both are
	// sent to the same lines as the router's own messages.
	klog.SetSlogLogger(log)
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.kubeContext})
	restCfg, err := kc.ClientConfig()
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	restCfg.UserAgent = "kanaria-router"

	id := k.id
	if id == "" {
		if id, err = os.Hostname(); err != nil {
			return fmt.Errorf("--id: no host name to default to: %w", err)
		}
		id = strings.ToLower(id)
	}
	if errs := validation.IsDNS1123Subdomain(traffic.RouterLeaseName(id)); len(errs) > 0 {
		return fmt.Errorf("--id %q: the Lease name %s is not a valid object name: %s", id, traffic.RouterLeaseName(id), strings.Join(errs, "; "))
	}
	leaseNS := k.leaseNamespace
	if leaseNS == "" {
		if leaseNS, _, err = kc.Namespace(); err != nil {
			return fmt.Errorf("--lease-namespace: %w", err)
		}
	}
	salt := types.NamespacedName{Namespace: leaseNS, Name: routersync.DefaultSaltSecret}
	var adminSecret, overrideSecret types.NamespacedName
	for _, s := range []struct {
		flag, val string
		dst       *types.NamespacedName
	}{{"--salt-secret", k.saltSecret, &salt}, {"--admin-token-secret", k.adminSecret, &adminSecret}, {"--override-secret", k.overrideSecret, &overrideSecret}} {
		if s.val == "" {
			continue
		}
		ns, name, ok := strings.Cut(s.val, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("%s %q: want NAMESPACE/NAME", s.flag, s.val)
		}
		*s.dst = types.NamespacedName{Namespace: ns, Name: name}
	}
	if adminSecret.Name != "" && (o.tokenFile != "" || o.admin == "") {
		return errors.New("--admin-token-secret: give it with --admin and without --admin-token-file")
	}

	listen := firstOf(o.listen, defaultKubeRouterListen)
	if o.admin != "" && !o.allowRemote {
		if err := requireLoopback(o.admin); err != nil {
			return err
		}
	}
	base := router.Config{Listen: listen, Admin: o.admin}
	r, err := router.New(base)
	if err != nil {
		return err
	}
	defer r.Close()

	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
	defer stop()

	// The proxy's port is taken at once, so a port in use fails the start,
	// but answered only once the first table is in: a replica that does not
	// know the rollouts yet would send every user to "no route".
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	defer ln.Close()

	errs := make(chan error, 3)
	running := 0
	var ready readiness
	// The admin API's handler is swapped when its token changes (a token
	// from a Secret arrives after the start, and may be rotated); until
	// then an empty token refuses every authenticated request.
	var admin swappableHandler
	adminShown, adminURL := "admin disabled", k.adminURL
	if o.admin != "" {
		token := ""
		if adminSecret.Name == "" {
			tokenPath := o.tokenFile
			if tokenPath == "" {
				tokenPath = filepath.Join(wire.DefaultStateDir, wire.RouterAdminTokenFile)
			}
			t, created, err := wire.EnsureTokenFile(tokenPath)
			if err != nil {
				return fmt.Errorf("router admin token: %w", err)
			}
			if created {
				fmt.Fprintf(stderr, "kanaria router: wrote a new admin token to %s\n", tokenPath)
			}
			token = t
		}
		admin.set(kubeAdminHandler(r, token, &ready))
		aln, err := net.Listen("tcp", o.admin)
		if err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		go func() { errs <- router.Serve(ctx, aln, &admin, base) }()
		running++
		adminShown = "admin http://" + aln.Addr().String()
		if adminURL == "" {
			adminURL = advertisedURL(aln.Addr())
		}
	}

	var owner *metav1.OwnerReference
	if name, uid := os.Getenv("POD_NAME"), os.Getenv("POD_UID"); name != "" && uid != "" {
		owner = &metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: name, UID: types.UID(uid)}
	}
	syncer, err := routersync.New(restCfg, r, base, routersync.Options{
		Namespace:        k.namespace,
		ID:               id,
		LeaseNamespace:   leaseNS,
		SaltSecret:       salt,
		AdminTokenSecret: adminSecret,
		OnAdminToken: func(token string) {
			admin.set(kubeAdminHandler(r, token, &ready))
		},
		OverrideSecret: overrideSecret,
		AdminURL:       adminURL,
		Owner:          owner,
		Logger:         log,
	})
	if err != nil {
		stop()
		drain(errs, running)
		return err
	}
	go func() { errs <- syncer.Run(ctx) }()
	running++

	select {
	case <-syncer.Ready():
	case err := <-errs:
		// The syncer ended (or the admin listener failed) before the first
		// table: nothing was ever served.
		running--
		stop()
		drain(errs, running)
		if err == nil {
			err = ctx.Err()
		}
		return err
	}
	ready.set()
	go func() { errs <- router.Serve(ctx, ln, r, base) }()
	running++
	fmt.Fprintf(stdout, "kanaria router: serving on http://%s (%s), following the API server at %s as %s\n", ln.Addr(), adminShown, restCfg.Host, id)

	// Each part ends on its own only when it fails (else with ctx): then
	// the others are drained and the command exits.
	var first error
	for running > 0 {
		err := <-errs
		running--
		if err != nil && first == nil {
			first = err
		}
		stop()
	}
	if first == nil {
		fmt.Fprintln(stderr, "kanaria router: drained, exiting")
	}
	return first
}

// drain waits for n goroutines' results after a failed start.
func drain(errs <-chan error, n int) {
	for range n {
		<-errs
	}
}

// swappableHandler serves with the handler set last.
type swappableHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swappableHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swappableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// readiness is set once the first table is in.
type readiness struct{ b atomic.Bool }

func (r *readiness) set()     { r.b.Store(true) }
func (r *readiness) is() bool { return r.b.Load() }

// kubeAdminHandler is the admin API of the Kubernetes mode: the table follows
// the API server, so the admin API only reads (a PUT would be undone by the
// next change in the cluster, and the Lease would report what is not served).
// /readyz answers 200 once the first table is in, for the pod's readiness
// probe.
func kubeAdminHandler(r *router.Router, token string, ready *readiness) http.Handler {
	h := adminHandler(r, token)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/readyz":
			if !ready.is() {
				http.Error(w, "waiting for the first routing table from the API server", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok\n")
		case req.Method != http.MethodGet && req.Method != http.MethodHead:
			http.Error(w, "read-only: with --kubernetes the routing table follows the Rollouts in the API server; change them instead", http.StatusMethodNotAllowed)
		default:
			h.ServeHTTP(w, req)
		}
	})
}

// advertisedURL is the admin listener's URL as others reach it: an
// unspecified host (0.0.0.0, ::) becomes $POD_IP when set.
func advertisedURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if pod := os.Getenv("POD_IP"); pod != "" {
			host = pod
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
