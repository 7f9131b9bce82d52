package routersync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// SaltKey is the key of the salt in the salt Secret's data.
const SaltKey = "salt"

// DefaultSaltSecret is the salt Secret's name unless the command line says.
const DefaultSaltSecret = "kanaria-router-salt"

// Options configure a Syncer.
type Options struct {
	// Namespace limits the Rollouts (and their Services) served to one
	// namespace; "" serves every namespace.
	Namespace string
	// ID names this replica: its Lease is traffic.RouterLeaseName(ID), in
	// LeaseNamespace. Two live replicas must not share one.
	ID             string
	LeaseNamespace string
	// SaltSecret is the Secret holding the salt under SaltKey; created with a
	// random salt when missing.
	SaltSecret types.NamespacedName
	// AdminTokenSecret, when set, holds the admin API's token under
	// AdminTokenKey (created with a random token when missing); every
	// change is handed to OnAdminToken. The controller reads the same
	// Secret to read each replica's telemetry.
	AdminTokenSecret types.NamespacedName
	OnAdminToken     func(token string)
	// OverrideSecret, when set, holds under OverrideSecretKey the value a
	// request must present for an override to be honoured; while it is
	// missing overrides are off.
	OverrideSecret types.NamespacedName
	// AdminURL is published in the Lease for whoever reads this replica's
	// telemetry; "" when the admin API is off.
	AdminURL string
	// Owner, when set, becomes the Lease's owner (the replica's Pod), so the
	// Lease of a replica that is gone for good is garbage collected.
	Owner *metav1.OwnerReference
	// LeaseDuration is how long the Lease counts after a renewal (default
	// 15 s); RenewInterval how often it is renewed (default 5 s).
	LeaseDuration time.Duration
	RenewInterval time.Duration
	Logger        *slog.Logger
}

// Syncer keeps a router's table equal to what the API server says (see the
// package comment) and publishes what it applied in its Lease.
type Syncer struct {
	r      *router.Router
	base   router.Config
	opts   Options
	log    *slog.Logger
	cache  cache.Cache
	client client.Client // uncached: the Lease and the salt Secret's creation

	dirty chan struct{}
	ready chan struct{}

	// Only Run's goroutine touches what follows.
	applied   *router.Config // the table last swapped in
	report    traffic.RouterReport
	problems  []string              // last logged, to log a change once
	lease     *coordinationv1.Lease // as this replica last wrote it
	saltSeen  string                // the salt in the table
	saltTried time.Time             // when creating the missing salt Secret was last tried

	adminWatch, overrideWatch *secretWatch // nil when not named
	tokenSeen                 string       // the admin token last handed on
	tokenTried                time.Time    // when creating the missing token Secret was last tried
}

// New prepares a Syncer for r, whose table it will replace (keeping base's
// listeners, timeouts and header names). Run starts it.
func New(cfg *rest.Config, r *router.Router, base router.Config, opts Options) (*Syncer, error) {
	if opts.ID == "" || opts.LeaseNamespace == "" || opts.SaltSecret.Name == "" || opts.SaltSecret.Namespace == "" {
		return nil, errors.New("routersync: ID, LeaseNamespace and SaltSecret are required")
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = 15 * time.Second
	}
	if opts.RenewInterval <= 0 {
		opts.RenewInterval = 5 * time.Second
	}
	if opts.RenewInterval >= opts.LeaseDuration {
		return nil, fmt.Errorf("routersync: renew interval %v must be shorter than the lease duration %v", opts.RenewInterval, opts.LeaseDuration)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := kanariav1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}

	hasRollout, err := labels.NewRequirement(platform.LabelRollout, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	hasService, err := labels.NewRequirement(discoveryv1.LabelServiceName, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	served := map[string]cache.Config{cache.AllNamespaces: {}}
	if opts.Namespace != "" {
		served = map[string]cache.Config{opts.Namespace: {}}
	}
	noCopy := true // nothing read from the cache is ever changed
	c, err := cache.New(cfg, cache.Options{
		Scheme:                       scheme,
		DefaultNamespaces:            served,
		DefaultTransform:             cache.TransformStripManagedFields(),
		DefaultUnsafeDisableDeepCopy: &noCopy,
		ReaderFailOnMissingInformer:  true,
		ByObject: map[client.Object]cache.ByObject{
			&kanariav1alpha1.Rollout{}:   {Transform: keepRouteAndTraffic},
			&corev1.Service{}:            {Label: labels.NewSelector().Add(*hasRollout)},
			&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*hasRollout, *hasService)},
			&corev1.Secret{}: {
				Namespaces: map[string]cache.Config{opts.SaltSecret.Namespace: {}},
				Field:      fields.OneTermEqualSelector("metadata.name", opts.SaltSecret.Name),
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("routersync: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("routersync: %w", err)
	}
	s := &Syncer{
		r: r, base: base, opts: opts, log: opts.Logger, cache: c, client: cl,
		dirty:  make(chan struct{}, 1),
		ready:  make(chan struct{}),
		report: traffic.RouterReport{AdminURL: opts.AdminURL, Rollouts: map[string]traffic.AppliedTraffic{}},
	}
	for _, w := range []struct {
		nn  types.NamespacedName
		dst **secretWatch
	}{{opts.AdminTokenSecret, &s.adminWatch}, {opts.OverrideSecret, &s.overrideWatch}} {
		if w.nn.Name == "" {
			continue
		}
		if *w.dst, err = newSecretWatch(cfg, scheme, w.nn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// caches are every cache the Syncer reads: the main one and one per named
// Secret besides the salt's.
func (s *Syncer) caches() []cache.Cache {
	cs := []cache.Cache{s.cache}
	for _, w := range []*secretWatch{s.adminWatch, s.overrideWatch} {
		if w != nil {
			cs = append(cs, w.cache)
		}
	}
	return cs
}

// keepRouteAndTraffic keeps of a Rollout only what the table is built from,
// so the cache holds a few hundred bytes per Rollout whatever its spec.
func keepRouteAndTraffic(in any) (any, error) {
	ro, ok := in.(*kanariav1alpha1.Rollout)
	if !ok {
		return in, nil // a deletion's tombstone
	}
	out := &kanariav1alpha1.Rollout{TypeMeta: ro.TypeMeta}
	out.Name, out.Namespace, out.UID = ro.Name, ro.Namespace, ro.UID
	out.ResourceVersion, out.CreationTimestamp = ro.ResourceVersion, ro.CreationTimestamp
	out.Spec.Route = ro.Spec.Route
	out.Status.Traffic = ro.Status.Traffic
	return out, nil
}

// Ready is closed once the first table is swapped in and published.
func (s *Syncer) Ready() <-chan struct{} { return s.ready }

// Run watches the API server until ctx ends, swapping in a new table
// whenever what it is built from changes and renewing the Lease every
// RenewInterval. On return it deletes its Lease (the replica no longer
// serves), so the controller does not wait for it to expire.
func (s *Syncer) Run(ctx context.Context) error {
	poke := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.poke() },
		UpdateFunc: func(any, any) { s.poke() },
		DeleteFunc: func(any) { s.poke() },
	}
	watch := func(c cache.Cache, obj client.Object) error {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("routersync: watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(poke); err != nil {
			return fmt.Errorf("routersync: watching %T: %w", obj, err)
		}
		return nil
	}
	for _, obj := range []client.Object{&kanariav1alpha1.Rollout{}, &corev1.Service{}, &discoveryv1.EndpointSlice{}, &corev1.Secret{}} {
		if err := watch(s.cache, obj); err != nil {
			return err
		}
	}
	caches := s.caches()
	for _, c := range caches[1:] {
		if err := watch(c, &corev1.Secret{}); err != nil {
			return err
		}
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	// Any cache that ends ends the Syncer; cacheDone holds the first.
	cacheDone := make(chan error, len(caches))
	for _, c := range caches {
		go func() { cacheDone <- c.Start(cacheCtx) }()
	}
	defer func() {
		stopCache()
		for range caches {
			<-cacheDone
		}
	}()

	s.log.Info("waiting for the API server's objects", "namespace", namespaceOrAll(s.opts.Namespace))
	synced := true
	for _, c := range caches {
		synced = synced && c.WaitForCacheSync(ctx)
	}
	if !synced {
		select {
		case err := <-cacheDone:
			cacheDone <- err
			if err != nil {
				return fmt.Errorf("routersync: %w", err)
			}
		default:
		}
		return ctx.Err()
	}
	defer s.deleteLease()

	renew := time.NewTicker(s.opts.RenewInterval)
	defer renew.Stop()
	s.poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-cacheDone:
			cacheDone <- err
			return fmt.Errorf("routersync: watches ended: %v", err)
		case <-s.dirty:
			s.sync(ctx)
		case <-renew.C:
			if s.applied == nil {
				s.sync(ctx) // still waiting for the salt: try again
				continue
			}
			if err := s.writeLease(ctx); err != nil {
				s.log.Warn("renewing the router lease", "err", err)
			}
		}
	}
}

func (s *Syncer) poke() {
	select {
	case s.dirty <- struct{}{}:
	default: // a sync is already due; it will read the newest objects
	}
}

// sync builds the table from the cache, swaps it in if it changed and
// publishes what is applied.
func (s *Syncer) sync(ctx context.Context) {
	s.syncAdminToken(ctx)
	w, err := s.world(ctx)
	if err != nil {
		s.log.Warn("reading the API server's objects", "err", err)
		return
	}
	if w.salt == "" {
		return // waiting for the salt Secret; its arrival pokes again
	}
	b := build(s.base, w)
	s.logProblems(b.problems)

	changed := s.applied == nil || !reflect.DeepEqual(*s.applied, b.cfg)
	if changed {
		if err := s.r.Update(b.cfg); err != nil {
			// build validated every release on its own; a refusal here is
			// a bug, and the old table keeps serving.
			s.log.Error("the router refused the table built from the API server; still serving the previous one", "err", err)
			return
		}
		s.log.Info("routing table applied", "rollouts", len(b.applied), "releases", len(b.cfg.Releases), "routes", len(b.cfg.Routes))
	}
	s.applied = &b.cfg
	reportChanged := !reflect.DeepEqual(s.report.Rollouts, b.applied)
	s.report.Rollouts = b.applied
	if changed || reportChanged || s.lease == nil {
		if err := s.writeLease(ctx); err != nil {
			s.log.Warn("publishing the applied table in the router lease; retried at the next renewal", "err", err)
		}
	}
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// world reads what the table is built from out of the cache.
func (s *Syncer) world(ctx context.Context) (world, error) {
	w := world{
		services: map[types.NamespacedName]*corev1.Service{},
		slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
	}
	var ros kanariav1alpha1.RolloutList
	if err := s.cache.List(ctx, &ros); err != nil {
		return w, err
	}
	for i := range ros.Items {
		w.rollouts = append(w.rollouts, &ros.Items[i])
	}
	var svcs corev1.ServiceList
	if err := s.cache.List(ctx, &svcs); err != nil {
		return w, err
	}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		w.services[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = svc
	}
	var sls discoveryv1.EndpointSliceList
	if err := s.cache.List(ctx, &sls); err != nil {
		return w, err
	}
	for i := range sls.Items {
		sl := &sls.Items[i]
		k := types.NamespacedName{Namespace: sl.Namespace, Name: sl.Labels[discoveryv1.LabelServiceName]}
		w.slices[k] = append(w.slices[k], sl)
	}
	salt, err := s.salt(ctx)
	if err != nil {
		return w, err
	}
	w.salt = salt
	if w.overridesOff, w.overrideSecret, err = s.overrides(ctx); err != nil {
		return w, err
	}
	return w, nil
}

// salt reads the salt Secret from the cache; when it is missing the first
// time, it creates it with a random salt (all replicas race to create it;
// the API server lets one win and the others then read the winner's). When
// the Secret later disappears or loses its key the last salt stays: a
// changed salt would move users between versions.
func (s *Syncer) salt(ctx context.Context) (string, error) {
	var sec corev1.Secret
	err := s.cache.Get(ctx, s.opts.SaltSecret, &sec)
	switch {
	case err == nil && len(sec.Data[SaltKey]) > 0:
		salt := string(sec.Data[SaltKey])
		prev := s.saltSeen
		s.saltSeen = salt
		if prev != "" && prev != salt {
			s.log.Warn("the router salt changed: users are assigned anew (the same way on every replica)", "secret", s.opts.SaltSecret)
		}
		return salt, nil
	case err == nil:
		s.log.Error("the salt Secret has no key "+SaltKey, "secret", s.opts.SaltSecret)
	case apierrors.IsNotFound(err):
		// Retried at most once per renewal interval: a replica without
		// the right to create Secrets must not hammer the API server.
		if time.Since(s.saltTried) >= s.opts.RenewInterval {
			s.saltTried = time.Now()
			if err := s.createRandom(ctx, s.opts.SaltSecret, SaltKey); err != nil {
				s.log.Error("the salt Secret is missing and creating it failed; create it yourself (kubectl create secret generic NAME --from-literal=salt=RANDOM)", "secret", s.opts.SaltSecret, "err", err)
			}
		}
	default:
		return "", err
	}
	return s.saltSeen, nil
}

// logProblems logs what keeps objects out of the table when that changes,
// not at every rebuild.
func (s *Syncer) logProblems(p []string) {
	same := slices.Equal(p, s.problems)
	s.problems = p
	if same {
		return
	}
	for _, m := range p {
		s.log.Warn(m)
	}
}

func namespaceOrAll(ns string) string {
	if ns == "" {
		return "(all)"
	}
	return ns
}
