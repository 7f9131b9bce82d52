package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariaclient "github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/kube/cluster"
	"github.com/kanaria-dev/kanaria/internal/version"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// backend is what the commands about rollouts talk to: the API of the
// control plane `kanaria up` runs (apiBackend), or the Rollouts of one
// namespace of a Kubernetes cluster (clusterBackend). Both show a rollout as
// the same wire.RolloutView, so one set of printing code serves both.
type backend interface {
	List(ctx context.Context) ([]wire.RolloutView, error)
	Get(ctx context.Context, name string) (wire.RolloutView, error)
	Events(ctx context.Context, name string, afterID int64, limit int) ([]wire.Event, error)
	Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error
	// where names it in messages: "the control plane at http://…",
	// "namespace shop (context prod)".
	where() string
}

// historyBackend keeps per-second metrics (a control plane does; a cluster's
// Rollout does not).
type historyBackend interface {
	History(ctx context.Context, name string, since time.Time) ([]wire.HistoryPoint, error)
}

// apiBackend is a control plane's API.
type apiBackend struct{ *kanariaclient.Client }

func (b apiBackend) where() string { return "the control plane at " + b.BaseURL() }

// clusterBackend is a cluster namespace's Rollouts; commands are the
// patches the controller acts on.
type clusterBackend struct {
	*cluster.Backend
	kubeContext string
	// kubeconfig is the --kubeconfig given, "" for the default files.
	kubeconfig string
	// host is the API server's URL.
	host string
}

func (b clusterBackend) where() string {
	return fmt.Sprintf("namespace %s (context %s)", b.Namespace(), b.kubeContext)
}

// isConflict reports a command that does not apply now, from either backend.
func isConflict(err error) bool {
	return kanariaclient.IsConflict(err) || errors.As(err, new(*wire.ConflictError))
}

// clusterFlags choose a Kubernetes cluster as the backend, as kubectl's
// flags of the same names do.
type clusterFlags struct {
	kubernetes  bool
	kubeconfig  string
	kubeContext string
	namespace   string
}

func (k *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&k.kubernetes, "kubernetes", false, "talk to a Kubernetes cluster's Rollouts (the default without a state directory when a kubeconfig exists)")
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config); implies --kubernetes")
	fl.StringVar(&k.kubeContext, "context", "", "kubeconfig context (default the current one); implies --kubernetes")
	fl.StringVarP(&k.namespace, "namespace", "n", "", "namespace of the Rollouts (default the context's, else default); implies --kubernetes")
}

// Backend choice, in order: flags of one kind (--server, --state-dir,
// --token-file for a control plane; --kubernetes, --kubeconfig, --context,
// -n for a cluster; both kinds at once is an error); then a cluster when run
// as `kubectl kanaria`; then the control plane if the state directory
// exists; then a cluster if a kubeconfig exists ($KUBECONFIG or
// ~/.kube/config), saying so on stderr; else the control plane, whose
// discovery error says what is missing.
func (f *clientFlags) backend(cmd *cobra.Command) (backend, error) {
	if err := f.checkOutput(); err != nil {
		return nil, err
	}
	changed := cmd.Flags().Changed
	local := changed("state-dir") || changed("server") || changed("token-file")
	k := &f.cluster
	kube := k.kubernetes || changed("kubeconfig") || changed("context") || changed("namespace")
	switch {
	case local && kube:
		return nil, errors.New("--state-dir, --server and --token-file choose a control plane; --kubernetes, --kubeconfig, --context and -n a cluster: give one kind")
	case kube, !local && invokedAsPlugin(cmd):
		return k.connect()
	case !local && !exists(f.stateDir) && kubeconfigExists():
		b, err := k.connect()
		if err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "kanaria: no %s here, so the cluster: %s (--state-dir for a control plane)\n", f.stateDir, b.where())
		}
		return b, err
	}
	c, err := kanariaclient.Discover(f.stateDir, f.serverURL, f.tokenFile)
	if err != nil {
		return nil, err
	}
	return apiBackend{c}, nil
}

// kubeTarget is the cluster and namespace the flags name.
type kubeTarget struct {
	cfg         *rest.Config
	namespace   string
	kubeContext string
}

// target reads the kubeconfig as kubectl does, with the flags' overrides.
func (k *clusterFlags) target() (kubeTarget, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	over := &clientcmd.ConfigOverrides{CurrentContext: k.kubeContext}
	over.Context.Namespace = k.namespace
	kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over)
	cfg, err := kc.ClientConfig()
	if err != nil {
		return kubeTarget{}, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	cfg.UserAgent = "kanaria-cli/" + version.String()
	// client-go's default of 5 requests/s (burst 10) makes a watch's or a
	// dashboard's reads wait on the client; kubectl allows as many.
	cfg.QPS, cfg.Burst = 50, 300
	ns, _, err := kc.Namespace()
	if err != nil {
		return kubeTarget{}, fmt.Errorf("kubernetes namespace: %w", err)
	}
	ctxName := k.kubeContext
	if ctxName == "" {
		raw, err := kc.RawConfig()
		if err != nil {
			return kubeTarget{}, fmt.Errorf("kubeconfig: %w", err)
		}
		ctxName = raw.CurrentContext
	}
	return kubeTarget{cfg: cfg, namespace: ns, kubeContext: ctxName}, nil
}

// connect opens the cluster the flags name, for a command.
func (k *clusterFlags) connect() (clusterBackend, error) {
	t, err := k.target()
	if err != nil {
		return clusterBackend{}, err
	}
	return k.open(t, nil, wire.Info{Version: version.String()})
}

// open makes the backend for t; reader, when not nil, serves its reads (an
// informer cache, for the dashboard).
func (k *clusterFlags) open(t kubeTarget, reader client.Reader, info wire.Info) (clusterBackend, error) {
	c, err := client.New(t.cfg, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		return clusterBackend{}, fmt.Errorf("kubernetes client for %s: %w", t.cfg.Host, err)
	}
	b, err := cluster.New(c, cluster.Options{Namespace: t.namespace, Reader: reader, Info: info})
	if err != nil {
		return clusterBackend{}, err
	}
	return clusterBackend{Backend: b, kubeContext: t.kubeContext, kubeconfig: k.kubeconfig, host: t.cfg.Host}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// kubeconfigExists reports whether kubectl would find a kubeconfig file.
func kubeconfigExists() bool {
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		for _, p := range filepath.SplitList(env) {
			if p != "" && exists(p) {
				return true
			}
		}
		return false
	}
	return exists(clientcmd.RecommendedHomeFile)
}

// commandLine is how the user runs sub against the same
// cluster: "kanaria" or "kubectl kanaria" with the flags that chose it.
func (b clusterBackend) commandLine(cmd *cobra.Command, sub string) string {
	line := rootName(cmd) + " " + sub + " -n " + b.Namespace()
	if f := cmd.Flags().Lookup("context"); f != nil && f.Changed {
		line += " --context " + b.kubeContext
	}
	if b.kubeconfig != "" {
		line += " --kubeconfig " + b.kubeconfig
	}
	return line
}

// doOnCluster carries out an action against a cluster: the patch, then,
// with wait > 0, waiting for the controller to act on it.
func doOnCluster(cmd *cobra.Command, b clusterBackend, name string, command engine.Command, wait time.Duration) (cluster.Request, wire.RolloutView, error) {
	ctx := cmd.Context()
	req, err := b.Request(ctx, name, command)
	if err != nil || wait <= 0 || req.Patch == "" {
		return req, req.View, err
	}
	v, err := b.Wait(ctx, name, req, 250*time.Millisecond, wait)
	return req, v, err
}
