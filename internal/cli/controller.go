package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kanaria-dev/kanaria/internal/controller"
)

func init() { addCommand(newControllerCmd) }

// controllerOpts are the flags of `kanaria controller`.
type controllerOpts struct {
	kubeconfig, context string
	logFormat           string
	o                   controller.Options
}

func newControllerCmd() *cobra.Command {
	var c controllerOpts
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Kubernetes controller that releases kanaria.dev Rollouts",
		Long: `Run kanaria's controller against a Kubernetes API server: it reconciles
kanaria.dev/v1alpha1 Rollouts with the same engine kanaria up runs on one
machine. The Rollout's status is the store; copies of the target Deployment
run the canary and the baseline; the traffic provider of spec.traffic
(kanaria's router by default) moves the weights.

The API server is the one of --kubeconfig (else $KUBECONFIG, else
~/.kube/config), or the pod's own service account inside a cluster.
With --leader-elect, replicas elect one leader on a Lease and only it acts;
the others wait, ready to take over. /healthz and /readyz answer on
--health-probe-bind-address, Prometheus metrics on --metrics-bind-address
("0" turns either off). SIGTERM or SIGINT stops it (a leader steps down at
once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd.Context(), c, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.StringVar(&c.context, "context", "", "kubeconfig context (default its current one)")
	f.StringVar(&c.o.Namespace, "namespace", "", "reconcile only the Rollouts of this namespace (default all)")
	f.BoolVar(&c.o.LeaderElection, "leader-elect", false, "elect one leader among the replicas on a Lease; only it acts")
	f.StringVar(&c.o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default the pod's)")
	f.StringVar(&c.o.LeaderElectionID, "leader-election-id", controller.DefaultLeaderElectionID, "name of the leader-election Lease")
	f.DurationVar(&c.o.LeaseDuration, "leader-election-lease-duration", controller.DefaultLeaseDuration, "how long after a leader's last renewal another replica takes over")
	f.DurationVar(&c.o.RenewDeadline, "leader-election-renew-deadline", controller.DefaultRenewDeadline, "how long a leader retries renewing before it gives up leading")
	f.DurationVar(&c.o.RetryPeriod, "leader-election-retry-period", controller.DefaultRetryPeriod, "how often replicas try to acquire or renew the Lease")
	f.StringVar(&c.o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", `address of /healthz and /readyz ("0": off)`)
	f.StringVar(&c.o.MetricsBindAddress, "metrics-bind-address", ":8080", `address of Prometheus /metrics ("0": off)`)
	f.StringVar(&c.o.RouterNamespace, "router-namespace", "", "namespace of kanaria's router replicas and their Leases (default the pod's, else "+controller.DefaultRouterNamespace+")")
	f.StringVar(&c.o.RouterAdminSecret, "router-admin-secret", controller.DefaultRouterAdminSecret, "Secret in --router-namespace with the router replicas' admin token (key \"token\"), to read their samples for analysis")
	f.DurationVar(&c.o.PollInterval, "poll-interval", controller.DefaultPollInterval, "how often a progressing release or a running analysis is looked at beyond what watches report")
	f.StringVar(&c.logFormat, "log-format", "text", "log lines as text or json")
	return cmd
}

func runController(parent context.Context, c controllerOpts, stderr io.Writer) error {
	if parent == nil {
		parent = context.Background()
	}
	switch c.logFormat {
	case "text":
		c.o.Logger = newLogger(stderr, "")
	case "json":
		c.o.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	cfg, err := restConfig(c.kubeconfig, c.context)
	if err != nil {
		return err
	}
	ctl, err := controller.New(cfg, c.o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.o.Logger.Info("kanaria controller starting", "server", cfg.Host, "namespace", orAll(c.o.Namespace), "leaderElection", c.o.LeaderElection)
	return ctl.Start(ctx)
}

// restConfig loads the API server's address and credentials the way kubectl
// does: the explicit file, else $KUBECONFIG, else ~/.kube/config, else the
// pod's service account.
func restConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the Kubernetes API server: %w", err)
	}
	return cfg, nil
}

func orAll(ns string) string {
	if ns == "" {
		return "(all)"
	}
	return ns
}
