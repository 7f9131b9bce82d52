package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/run"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// conflictRetry is how soon a pass that lost the race for the status is
// retried: someone else wrote the Rollout, so there is news to read.
const conflictRetry = 50 * time.Millisecond

// Reconciler reconciles kanaria.dev Rollouts (see the package comment for
// one pass). Its fields are set by New; tests may build one with their own
// clients.
type Reconciler struct {
	// Client reads from the manager's cache (Deployments, Services,
	// Leases, HTTPRoutes) and writes.
	Client ctrl.Client
	// Direct reads and writes the API server without a cache: the Rollout
	// itself, so a pass never acts on a status older than the last one
	// written, and the router provider's status.traffic.
	Direct ctrl.Client
	Log    *slog.Logger
	// RouterNamespace holds the router replicas' Leases.
	RouterNamespace string
	// PollInterval: see Options.
	PollInterval time.Duration
	// RouterAdminSecret names the Secret, in RouterNamespace, with the
	// router replicas' admin token (key "token"): analysis reads each
	// replica's samples with it (analysis.go).
	RouterAdminSecret string
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu  sync.Mutex
	mem map[types.NamespacedName]*memory

	hostOnce sync.Once
	host     string

	samplesOnce sync.Once
	samples     *replicaSamples
}

// memory is what a pass leaves for the next passes of the same Rollout, in
// this process only: nothing in it is needed to resume after a restart.
type memory struct {
	uid types.UID
	// invalid are copies the platform refused to run (an image that does
	// not render for the revision, ...), by engine.VersionKey, with the
	// reason: they are reported to the engine as failed, so a release
	// aborts instead of waiting for them forever.
	invalid map[string]string
	// waiting says why the last pass could not finish bringing the cluster
	// to the status (an action failed, traffic not read back yet); it goes
	// into the Progressing condition's message.
	waiting string
	// analysis is the release's analyses (analysis.go); cursor, per router
	// replica and version, the newest sample already added to them.
	analysis run.State
	cursor   map[string]int64
}

// memory returns the memory of the Rollout; one created anew under the
// same name (another UID) starts with none.
func (r *Reconciler) memory(key types.NamespacedName, uid types.UID) *memory {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		r.mem = map[types.NamespacedName]*memory{}
	}
	m := r.mem[key]
	if m == nil || m.uid != uid {
		if m != nil {
			m.analysis.End() // no remote fetch outlives the Rollout it was for
		}
		m = &memory{uid: uid, invalid: map[string]string{}}
		r.mem[key] = m
	}
	return m
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.mem[key]; m != nil {
		m.analysis.End() // no remote fetch outlives the Rollout it was for
	}
	delete(r.mem, key)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile is one pass over one Rollout.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ro := &kanariav1alpha1.Rollout{}
	if err := r.Direct.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			// Its copies and Services go with it: they have owner
			// references to it.
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if ro.DeletionTimestamp != nil {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	// The clock without its monotonic reading: times go into the status
	// and are compared with what is read back.
	p := &pass{r: r, ro: ro, now: r.now().Round(0), mem: r.memory(req.NamespacedName, ro.UID), log: r.Log.With("rollout", req.String())}
	return p.run(ctx)
}

// pass is one reconcile of one Rollout in the making.
type pass struct {
	r   *Reconciler
	ro  *kanariav1alpha1.Rollout
	now time.Time
	mem *memory
	log *slog.Logger

	spec v1alpha1.Rollout // the engine's view of the Rollout
	pf   Platform
	tp   traffic.Provider

	st    v1alpha1.RolloutStatus // the new status
	acts  []engine.Action        // the engine's actions, in order
	notes []note                 // Events that are not the engine's (refused commands)
	obs   engine.Observations
}

// note is an Event the controller records besides the engine's.
type note struct {
	warning        bool
	reason, action string
	message        string
}

func (p *pass) run(ctx context.Context) (reconcile.Result, error) {
	if err := p.load(ctx); err != nil {
		var inv *invalidSpec
		if errors.As(err, &inv) {
			return p.invalid(ctx, inv)
		}
		return reconcile.Result{}, err
	}
	p.st = *p.ro.Status.DeepCopy()
	if p.st.Phase == "" {
		st, acts := engine.Initial(p.spec, p.now)
		p.st, p.acts = keepClusterFields(st, p.ro.Status), acts
	}
	p.commands(ctx)
	p.observe(ctx)
	st, acts := engine.Reconcile(p.spec, p.st, p.obs, p.now)
	p.st, p.acts = st, append(p.acts, acts...)
	p.clusterFields(ctx)

	if !reflect.DeepEqual(p.ro.Status, p.st) {
		updated := p.ro.DeepCopy()
		updated.Status = p.st
		if err := p.r.Direct.Status().Update(ctx, updated); err != nil {
			if apierrors.IsConflict(err) {
				p.log.Debug("status changed meanwhile; acting on nothing, reading again", "err", err)
				return reconcile.Result{RequeueAfter: conflictRetry}, nil
			}
			return reconcile.Result{}, fmt.Errorf("writing the status of rollout %s/%s: %w", p.ro.Namespace, p.ro.Name, err)
		}
		p.ro = updated
	}
	// The status is written: from here on everything is derived from it.
	p.recordEvents(ctx)
	waited := p.mem.waiting
	done := p.act(ctx)
	after := p.requeue(done)
	if p.mem.waiting != waited {
		// The Progressing condition says what is waited for: the next
		// pass writes the news.
		after = deadlineSlack
	}
	return reconcile.Result{RequeueAfter: after}, nil
}

// invalidSpec is a Rollout that cannot be released as written; the
// controller says why in the Invalid condition and creates nothing.
type invalidSpec struct {
	reason  string // CamelCase: InvalidSpec, InvalidTarget, UnsupportedPlatform
	message string
}

func (e *invalidSpec) Error() string { return e.message }

// load builds the engine's view of the Rollout, validates it, and gets its
// platform and traffic provider.
func (p *pass) load(ctx context.Context) error {
	p.spec = v1alpha1.Rollout{
		APIVersion: v1alpha1.APIVersion,
		Kind:       v1alpha1.KindRollout,
		Metadata:   v1alpha1.Metadata{Name: p.ro.Name},
		Spec:       *p.ro.Spec.DeepCopy(),
	}
	if err := spec.Validate(p.spec); err != nil {
		return &invalidSpec{reason: "InvalidSpec", message: err.Error()}
	}
	if p.spec.Spec.Platform.Kubernetes == nil {
		return &invalidSpec{reason: "UnsupportedPlatform", message: "spec.platform: kanaria controller releases Deployments (platform.kubernetes); local, static and ecs platforms run under kanaria up"}
	}
	spec.SetDefaults(&p.spec)
	pf, err := p.r.platformFor(p.ro)
	if err != nil {
		return err
	}
	tp, err := p.r.trafficFor(p.ro)
	if err != nil {
		return err
	}
	p.pf, p.tp = pf, tp
	// The target is checked against the revision it serves (or will, on
	// the first pass): a Deployment deleted or changed under a Rollout
	// makes it invalid as much as a bad spec does.
	rev := p.ro.Status.StableRevision
	if rev == "" {
		rev = p.spec.Spec.Revision
	}
	if err := pf.Validate(ctx, rev); err != nil {
		var inv *platform.InvalidError
		if errors.As(err, &inv) {
			return &invalidSpec{reason: "InvalidTarget", message: inv.Error()}
		}
		return err
	}
	return nil
}

// invalidRetry is how often a Rollout invalid because of its target is
// looked at again: the watches see the target change, but not every
// object the platform checks (a Service of someone else's in the way).
const invalidRetry = 30 * time.Second

// invalid writes the Invalid condition (and nothing else changes: the
// release, if any, stays where it is until the spec is fixed). Fixing the
// spec or the target triggers a new pass through the watches.
func (p *pass) invalid(ctx context.Context, inv *invalidSpec) (reconcile.Result, error) {
	var res reconcile.Result
	if inv.reason == "InvalidTarget" {
		res.RequeueAfter = invalidRetry
	}
	st := *p.ro.Status.DeepCopy()
	st.ObservedGeneration = p.ro.Generation
	st.Conditions = setCondition(st.Conditions, v1alpha1.Condition{
		Type: v1alpha1.ConditionInvalid, Status: v1alpha1.ConditionTrue, Reason: inv.reason, Message: inv.message,
	}, p.ro.Generation, p.now)
	if reflect.DeepEqual(st, p.ro.Status) {
		return res, nil
	}
	updated := p.ro.DeepCopy()
	updated.Status = st
	if err := p.r.Direct.Status().Update(ctx, updated); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, err
	}
	p.log.Warn("invalid rollout: nothing is created or changed until it is fixed", "reason", inv.reason, "message", inv.message)
	p.ro = updated
	p.event(ctx, 0, corev1.EventTypeWarning, inv.reason, "Validate", inv.message)
	return res, nil
}

// keepClusterFields returns the engine's status st with the cluster's own
// fields taken from old (the engine neither reads nor writes them).
func keepClusterFields(st, old v1alpha1.RolloutStatus) v1alpha1.RolloutStatus {
	st.ObservedGeneration, st.ObservedRevision, st.LastCommand = old.ObservedGeneration, old.ObservedRevision, old.LastCommand
	if st.ObservedRevision == "" {
		// The first status: spec.revision seeded it, so it is acted on.
		st.ObservedRevision = st.StableRevision
	}
	st.Step, st.CanaryWeight, st.Traffic, st.Conditions = old.Step, old.CanaryWeight, old.Traffic, old.Conditions
	return st
}

// recordEvents records one Kubernetes Event per engine event (reason = its
// type) and the controller's notes, after the status that implies them was
// written.
func (p *pass) recordEvents(ctx context.Context) {
	i := 0
	for _, a := range p.acts {
		if a.Kind != engine.ActRecordEvent || a.Event == nil {
			continue
		}
		typ := corev1.EventTypeNormal
		switch a.Event.Type {
		case engine.EventAborted, engine.EventAnalysisFailed, engine.EventAnalysisInconclusive:
			typ = corev1.EventTypeWarning
		}
		p.log.Info(a.Event.Type, "message", a.Event.Message)
		p.event(ctx, i, typ, a.Event.Type, "Release", a.Event.Message)
		i++
	}
	for _, n := range p.notes {
		typ := corev1.EventTypeNormal
		if n.warning {
			typ = corev1.EventTypeWarning
		}
		p.log.Info(n.reason, "message", n.message)
		p.event(ctx, i, typ, n.reason, n.action, n.message)
		i++
	}
}

// noteLimit is the longest Event message the API server accepts.
const noteLimit = 1024

// event writes one core/v1 Event about the Rollout. Events are written
// here rather than through client-go's recorders: both merge events of the
// same reason about one object (into a series, or "combined from similar
// events"), and the Rollout's Events are its history, one per transition
// event, in order. A write that fails is logged, not retried: the status,
// not the Events, is the record a release resumes from.
func (p *pass) event(ctx context.Context, i int, typ, reason, action, message string) {
	if len(message) > noteLimit {
		message = message[:noteLimit-3] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.ro.Namespace, Name: fmt.Sprintf("%s.%x.%d", p.ro.Name, p.now.UnixNano(), i)},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: kanariav1alpha1.GroupVersion.String(), Kind: "Rollout",
			Namespace: p.ro.Namespace, Name: p.ro.Name, UID: p.ro.UID, ResourceVersion: p.ro.ResourceVersion,
		},
		Type: typ, Reason: reason, Action: action, Message: message,
		Source:              corev1.EventSource{Component: eventComponent, Host: p.r.instance()},
		ReportingController: eventController, ReportingInstance: p.r.instance(),
		EventTime:      metav1.NewMicroTime(p.now),
		FirstTimestamp: metav1.NewTime(p.now), LastTimestamp: metav1.NewTime(p.now), Count: 1,
	}
	if err := p.r.Direct.Create(ctx, ev); err != nil {
		p.log.Warn("recording an event", "reason", reason, "err", err)
	}
}

// Who the Events say reported them.
const (
	eventComponent  = "kanaria-controller"
	eventController = "kanaria.dev/controller"
)

// instance names this process in Events: the pod's name.
func (r *Reconciler) instance() string {
	r.hostOnce.Do(func() {
		r.host, _ = os.Hostname()
		if r.host == "" {
			r.host = "unknown"
		}
		if len(r.host) > 128 {
			r.host = r.host[:128]
		}
	})
	return r.host
}
