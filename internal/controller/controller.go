package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// Defaults of Options.
const (
	DefaultLeaderElectionID = "kanaria-controller"
	// DefaultRouterNamespace is where the router replicas' Leases are read
	// when the controller runs outside a pod and no namespace is given: the
	// namespace the install manifests use.
	DefaultRouterNamespace = "kanaria-system"
	DefaultPollInterval    = time.Second
	// DefaultRouterAdminSecret holds the router replicas' admin token in
	// RouterNamespace (the install's kanaria-router-admin).
	DefaultRouterAdminSecret = traffic.DefaultRouterAdminSecret
	DefaultLeaseDuration     = 15 * time.Second
	DefaultRenewDeadline     = 10 * time.Second
	DefaultRetryPeriod       = 2 * time.Second
)

// inClusterNamespace is where a pod finds its own namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// workloadRefIndex indexes Rollouts by the name of their target
// Deployment, so a change of a Deployment reaches the Rollouts releasing it
// (the target is the user's and has no owner reference to follow).
const workloadRefIndex = "spec.platform.kubernetes.workloadRef.name"

// Options configure the controller; the zero value of each field means its
// default.
type Options struct {
	// Namespace limits the controller to the Rollouts (and the Deployments
	// and Services) of one namespace; "" watches all.
	Namespace string
	// LeaderElection makes the replicas of the controller elect one leader
	// on a coordination.k8s.io Lease; only the leader reconciles.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; default the pod's namespace.
	LeaderElectionNamespace string
	// LeaderElectionID is the Lease's name.
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod time the election: a
	// leader that stops renewing is replaced LeaseDuration after its last
	// renewal.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// HealthProbeBindAddress serves /healthz and /readyz; "" or "0" off.
	HealthProbeBindAddress string
	// MetricsBindAddress serves Prometheus /metrics; "" or "0" off.
	MetricsBindAddress string
	// RouterNamespace is where kanaria's router replicas keep their Leases
	// (the router traffic provider's read-back). Default: the pod's
	// namespace, else DefaultRouterNamespace.
	RouterNamespace string
	// PollInterval is how often a progressing release, traffic not yet
	// read back, or a running analysis is looked at again beyond what
	// watches report.
	PollInterval time.Duration
	// RouterAdminSecret is the Secret in RouterNamespace with the router
	// replicas' admin token, for reading their samples; default
	// DefaultRouterAdminSecret.
	RouterAdminSecret string
	// Logger receives the controller's log, controller-runtime's and
	// client-go's; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RouterNamespace == "" {
		o.RouterNamespace = DefaultRouterNamespace
		if b, err := os.ReadFile(inClusterNamespace); err == nil && strings.TrimSpace(string(b)) != "" {
			o.RouterNamespace = strings.TrimSpace(string(b))
		}
	}
}

// Scheme returns the types the controller reads and writes: Kubernetes'
// built-in ones, kanaria's Rollout and the Gateway API's HTTPRoute.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kanariav1alpha1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Controller is a configured manager with the Rollout reconciler added.
type Controller struct {
	mgr manager.Manager
	log *slog.Logger
}

// New builds the manager for the API server cfg points at. Nothing runs
// until Start.
func New(cfg *rest.Config, o Options) (*Controller, error) {
	o.defaults()
	// controller-runtime and client-go (leader election among them) log
	// through the same handler as the rest of kanaria.
	lr := logr.FromSlogHandler(o.Logger.Handler())
	ctrl.SetLogger(lr)
	klog.SetLogger(lr)

	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	copts := cache.Options{
		// Objects are read often and their managedFields never.
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			// Only the router replicas' Leases, in their namespace (the
			// leader-election Lease goes through its own client).
			&coordinationv1.Lease{}: {
				Namespaces: map[string]cache.Config{o.RouterNamespace: {}},
				Label:      labels.SelectorFromSet(labels.Set{traffic.RouterComponentLabel: traffic.RouterComponent}),
			},
		},
	}
	if o.Namespace != "" {
		copts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                        scheme,
		Cache:                         copts,
		Logger:                        lr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionResourceLock:    "leases",
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.LeaseDuration,
		RenewDeadline:                 &o.RenewDeadline,
		RetryPeriod:                   &o.RetryPeriod,
		HealthProbeBindAddress:        orOff(o.HealthProbeBindAddress),
		Metrics:                       metricsserver.Options{BindAddress: orOff(o.MetricsBindAddress)},
	})
	if err != nil {
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	// Ready once the caches hold the cluster: a replica that is not the
	// leader is ready too (it is a warm standby), it just does not act.
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("caches not synced yet")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		Client:            mgr.GetClient(),
		Direct:            direct,
		Log:               o.Logger,
		RouterNamespace:   o.RouterNamespace,
		RouterAdminSecret: o.RouterAdminSecret,
		PollInterval:      o.PollInterval,
	}
	if err := r.setup(mgr); err != nil {
		return nil, err
	}
	return &Controller{mgr: mgr, log: o.Logger}, nil
}

// orOff is controller-runtime's "0" (off) for an empty address.
func orOff(addr string) string {
	if addr == "" {
		return "0"
	}
	return addr
}

// Start runs the manager until ctx is done (or, with leader election, the
// lease is lost: the process must then exit, as a new leader may act).
func (c *Controller) Start(ctx context.Context) error {
	go func() {
		select {
		case <-c.mgr.Elected():
			c.log.Info("leading: reconciling Rollouts")
		case <-ctx.Done():
		}
	}()
	return c.mgr.Start(ctx)
}

// setup registers the reconciler and its watches with mgr.
func (r *Reconciler) setup(mgr manager.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kanariav1alpha1.Rollout{}, workloadRefIndex, func(o client.Object) []string {
		ro := o.(*kanariav1alpha1.Rollout)
		if k := ro.Spec.Platform.Kubernetes; k != nil && k.WorkloadRef.Name != "" {
			return []string{k.WorkloadRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing Rollouts by workloadRef: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("rollout").
		For(&kanariav1alpha1.Rollout{}).
		// The copies (owned) and the targets (by the index): their status
		// is the platform's readiness.
		Owns(&appsv1.Deployment{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfTarget)).
		Complete(r)
}

// rolloutsOfTarget maps a Deployment to the Rollouts whose workloadRef
// names it.
func (r *Reconciler) rolloutsOfTarget(ctx context.Context, o client.Object) []reconcile.Request {
	var list kanariav1alpha1.RolloutList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{workloadRefIndex: o.GetName()}); err != nil {
		r.Log.Warn("listing the Rollouts of a Deployment", "deployment", o.GetNamespace()+"/"+o.GetName(), "err", err)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ro := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ro)})
	}
	return reqs
}
