package platform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Labels and annotations kanaria puts on the objects of the Kubernetes
// platform. Other parts (traffic providers, the router's sync) select on
// them, so they are named once, here.
const (
	// LabelRole is on the pod templates of the target and its copies, and
	// in the copies' and Services' selectors: "stable", "canary" or
	// "baseline". It is what keeps a copy's pods out of the target's
	// Services and the target's pods out of the copies'.
	LabelRole = "kanaria.dev/role"
	// LabelRevision is on the pod templates: the revision the pods run.
	// As an annotation on a Deployment it is the revision the Deployment
	// is meant to run (its template was rendered from it).
	LabelRevision = "kanaria.dev/revision"
	// LabelRollout is on the copies, their pod templates and the Services:
	// the Rollout they belong to.
	LabelRollout = "kanaria.dev/rollout"
)

// Roles of the Kubernetes platform's Deployments and Services.
const (
	RoleStable   = "stable"
	RoleCanary   = "canary"
	RoleBaseline = "baseline"
)

// kubeField is the field path of the Kubernetes platform in a Rollout, for
// InvalidError.
const kubeField = "spec.platform.kubernetes"

// stateTimeout bounds State's reads. They come from the client's cache and
// answer at once; the bound only matters when a cache has to start first
// and the API server does not answer.
const stateTimeout = 10 * time.Second

// Kubernetes runs the revisions of one Rollout as Deployments in its
// namespace (K8S-DESIGN.md, "Kubernetes platform").
//
// The Deployment named by the spec's workloadRef, the target, is the stable
// revision: adopting it sets its pod-template label kanaria.dev/role=stable
// (and kanaria.dev/revision), its annotation kanaria.dev/revision, and the
// images and env rendered from the revision, which restarts its pods once.
// Any other revision runs in the copy <target>-canary, and a baseline in
// <target>-baseline: the target's spec with a patch (role, revision and
// rollout labels, the role added to the selector so the copy's ReplicaSets
// and pods are its own, the images and env of the revision, its own
// replica count). The Services <target>-stable, -canary and -baseline
// select the target's labels plus the role, so State's endpoints are
// Service URLs and the Services' EndpointSlices say which pods are ready.
// Copies and Services carry an owner reference to the Rollout, so deleting
// the Rollout deletes them; the target, the user's, never gets one.
//
// Promotion happens in place: Stop of the target's revision while the copy
// runs another one (the engine stopping the old stable after promoting the
// canary) rolls the target to the copy's revision. Until the target is
// Ready the copy serves that revision (State reports it); from then on the
// target does, and Settle deletes the copy. Undo while the old stable is
// warm needs no change at all: the target still runs it.
//
// Every method reads through the client it was given; give it a client
// that reads from a cache (a controller-runtime manager's does), since
// State is called on every reconcile.
type Kubernetes struct {
	c       client.Client
	ns      string
	rollout string
	owner   metav1.OwnerReference
	spec    v1alpha1.KubernetesPlatform
}

// NewKubernetes returns the platform of one Rollout. c reads (ideally from
// a cache) and writes; namespace is the Rollout's, and the target's; owner
// refers to the Rollout (its APIVersion, Kind, Name and UID; Controller and
// BlockOwnerDeletion are set here) and goes on every object kanaria
// creates, so they are garbage-collected with it.
func NewKubernetes(c client.Client, namespace, rollout string, owner metav1.OwnerReference, spec v1alpha1.KubernetesPlatform) (*Kubernetes, error) {
	switch {
	case c == nil:
		return nil, errors.New("kubernetes platform: no client")
	case namespace == "":
		return nil, errors.New("kubernetes platform: no namespace")
	case rollout == "":
		return nil, errors.New("kubernetes platform: no rollout name")
	case owner.APIVersion == "" || owner.Kind == "" || owner.Name == "" || owner.UID == "":
		return nil, fmt.Errorf("kubernetes platform: owner reference %+v needs apiVersion, kind, name and uid", owner)
	}
	yes := true
	owner.Controller, owner.BlockOwnerDeletion = &yes, &yes
	return &Kubernetes{c: c, ns: namespace, rollout: rollout, owner: owner, spec: spec}, nil
}

// Capabilities: copies are started and stopped, and a baseline copy can
// run. Logs are not offered: the pods are ordinary pods (kubectl logs).
func (k *Kubernetes) Capabilities() []Capability {
	return []Capability{CanStart, CanStop, HasBaseline}
}

// Validate checks what only the cluster can tell about the spec: that the
// target Deployment exists, that every container named exists in it, that
// the image and env templates render for revision, that there is a port,
// and that the names kanaria would create are valid and not taken by
// objects of someone else. It writes nothing; a problem is an
// *InvalidError. Ensure validates the same way before it writes.
func (k *Kubernetes) Validate(ctx context.Context, revision string) error {
	_, _, err := k.validate(ctx, revision)
	return err
}

// validate is Validate, returning the target read and the revision's plan.
func (k *Kubernetes) validate(ctx context.Context, revision string) (*appsv1.Deployment, *plan, error) {
	target, err := k.getTarget(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := k.plan(target, revision)
	if err != nil {
		return nil, nil, err
	}
	for _, role := range []string{RoleStable, RoleCanary, RoleBaseline} {
		if err := k.checkFree(ctx, &corev1.Service{}, k.name(role)); err != nil {
			return nil, nil, err
		}
		if role != RoleStable {
			if err := k.checkFree(ctx, &appsv1.Deployment{}, k.name(role)); err != nil {
				return nil, nil, err
			}
		}
	}
	return target, p, nil
}

// Ensure makes the instance run without waiting for it: the target for its
// own revision (adopting it on first use), else the canary copy, or the
// baseline copy for a baseline instance, plus the Service in front of it.
// Nothing is written when everything already matches, so a copy whose pods
// run the right template keeps them. Invalid specs are refused with an
// *InvalidError before anything is written (Validate's checks, so a name
// taken by someone else's object stops the adoption too, not only the
// copy that would need it).
//
// The canary copy runs one revision at a time: while it serves another
// revision (the stable, promoted while the old stable is kept warm in the
// target, or the revision the target is rolling to), Ensure of a new
// canary fails and must be retried; it succeeds once that revision has
// moved into the target and Settle has removed the copy.
func (k *Kubernetes) Ensure(ctx context.Context, in Instance) error {
	target, p, err := k.validate(ctx, in.Revision)
	if err != nil {
		return err
	}
	if in.Baseline {
		return k.ensureCopy(ctx, target, RoleBaseline, p)
	}
	if at := revisionOf(target); at == "" || at == in.Revision {
		return k.ensureTarget(ctx, target, p)
	}
	return k.ensureCopy(ctx, target, RoleCanary, p)
}

// Stop stops the instance; it is idempotent. A baseline instance or a
// canary copy running the revision is deleted. Stopping the target's own
// revision while the canary copy runs another one promotes that one in
// place: the target is rolled to it (the copy goes once the target is
// Ready, see Settle). The target itself is never deleted or scaled down,
// so stopping its revision with nothing to replace it is an error.
func (k *Kubernetes) Stop(ctx context.Context, in Instance) error {
	if in.Baseline {
		d, err := k.getCopy(ctx, RoleBaseline)
		if err != nil || d == nil || revisionOf(d) != in.Revision {
			return err
		}
		return k.deleteCopy(ctx, d)
	}
	target, err := k.getTarget(ctx)
	if err != nil {
		return err
	}
	canary, err := k.getCopy(ctx, RoleCanary)
	if err != nil {
		return err
	}
	at := revisionOf(target)
	switch {
	case at != in.Revision:
		if canary != nil && revisionOf(canary) == in.Revision {
			return k.deleteCopy(ctx, canary)
		}
		return nil // nothing runs it
	case canary != nil && revisionOf(canary) != in.Revision && canary.DeletionTimestamp == nil:
		p, err := k.plan(target, revisionOf(canary))
		if err != nil {
			return err
		}
		return k.ensureTarget(ctx, target, p)
	default:
		return fmt.Errorf("rollout %s: cannot stop %s: Deployment %s/%s runs it and no other revision runs to take its place (the target is never deleted or scaled down)",
			k.rollout, in.Revision, k.ns, target.Name)
	}
}

// Settle finishes a promotion in place: once the target runs the revision
// the canary copy runs and is Ready, and traffic no longer goes to the
// copy, it deletes the copy. routed are the endpoints of the traffic
// assignment the traffic provider has read back: the copy is kept while
// its Service is among them. It reads from the cache and writes nothing
// otherwise, so it can run on every reconcile.
//
// The check on routed is what makes the order safe: the assignment was
// made from State at some moment, and the cache may have seen the target
// turn Ready since. Deleting the copy then would leave the routers sending
// users to a Service without pods until the next assignment is read back;
// instead the copy goes on the pass whose read-back names the target's
// Service.
func (k *Kubernetes) Settle(ctx context.Context, routed []string) error {
	target, err := k.getTarget(ctx)
	if err != nil {
		return err
	}
	canary, err := k.getCopy(ctx, RoleCanary)
	if err != nil || canary == nil {
		return err
	}
	at := revisionOf(target)
	if at == "" || revisionOf(canary) != at {
		return nil
	}
	if ready, _, _ := deploymentReady(target); !ready {
		return nil
	}
	if slices.Contains(routed, k.stateOf(canary, RoleCanary).Endpoints[0]) {
		return nil // users may still be sent to it
	}
	return k.deleteCopy(ctx, canary)
}

// State reports an instance from the cache: Ready when its Deployment's
// rollout is complete, Failed when the Deployment exceeded its progress
// deadline, and the URL of its Service as the endpoint (the Service's
// EndpointSlices list its ready pods). While the target rolls to a
// revision the copy still runs, the copy is reported. ok is false when
// nothing runs the revision.
func (k *Kubernetes) State(in Instance) (State, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	if in.Baseline {
		d, err := k.getCopy(ctx, RoleBaseline)
		if err != nil || d == nil || d.DeletionTimestamp != nil || revisionOf(d) != in.Revision {
			return State{}, false
		}
		return k.stateOf(d, RoleBaseline), true
	}
	target, err := k.getTarget(ctx)
	if err != nil {
		return State{}, false
	}
	canary, err := k.getCopy(ctx, RoleCanary)
	if err != nil {
		return State{}, false
	}
	inCopy := canary != nil && canary.DeletionTimestamp == nil && revisionOf(canary) == in.Revision
	if revisionOf(target) == in.Revision {
		st := k.stateOf(target, RoleStable)
		if st.Ready || !inCopy {
			return st, true
		}
		cst := k.stateOf(canary, RoleCanary)
		cst.Reason = fmt.Sprintf("served by Deployment %s while %s rolls to it (%s)", canary.Name, target.Name, st.Reason)
		return cst, true
	}
	if inCopy {
		return k.stateOf(canary, RoleCanary), true
	}
	return State{}, false
}

// Close does nothing: the Deployments and Services live in the cluster,
// where a restarted controller finds them again; they go with the Rollout.
func (k *Kubernetes) Close(context.Context) error { return nil }

// name is the name of the Deployment copy or Service of a role.
func (k *Kubernetes) name(role string) string { return k.spec.WorkloadRef.Name + "-" + role }

// endpoint is the URL of a role's Service.
func (k *Kubernetes) endpoint(role string, port int32) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", k.name(role), k.ns, port)
}

// getTarget reads the target Deployment; a missing one is invalid.
func (k *Kubernetes) getTarget(ctx context.Context) (*appsv1.Deployment, error) {
	ref := k.spec.WorkloadRef
	field := kubeField + ".workloadRef"
	if ref.APIVersion != "" && ref.APIVersion != "apps/v1" {
		return nil, invalid(field+".apiVersion", "%q is not supported: only apps/v1 Deployments are", ref.APIVersion)
	}
	if ref.Kind != "" && ref.Kind != "Deployment" {
		return nil, invalid(field+".kind", "%q is not supported: only apps/v1 Deployments are", ref.Kind)
	}
	if ref.Name == "" {
		return nil, invalid(field+".name", "empty: name the Deployment to release")
	}
	// Service names are DNS-1035 labels (at most 63 characters, starting
	// with a letter); the longest one kanaria makes is <target>-baseline.
	if errs := validation.IsDNS1035Label(k.name(RoleBaseline)); len(errs) > 0 {
		return nil, invalid(field+".name", "kanaria names Services after the target, and %q is not a valid Service name: %s", k.name(RoleBaseline), strings.Join(errs, "; "))
	}
	var d appsv1.Deployment
	err := k.c.Get(ctx, types.NamespacedName{Namespace: k.ns, Name: ref.Name}, &d)
	if apierrors.IsNotFound(err) {
		return nil, invalid(field+".name", "Deployment %s/%s not found", k.ns, ref.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("rollout %s: reading Deployment %s/%s: %w", k.rollout, k.ns, ref.Name, err)
	}
	return &d, nil
}

// getCopy reads a role's copy; nil when there is none. One that is not
// the Rollout's is an error.
func (k *Kubernetes) getCopy(ctx context.Context, role string) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	ok, err := k.getOwned(ctx, &d, k.name(role))
	if err != nil || !ok {
		return nil, err
	}
	return &d, nil
}

// getOwned reads obj by name; ok is false when it does not exist, and an
// object that exists without an owner reference to the Rollout is an
// *InvalidError: kanaria does not take over objects it did not create.
func (k *Kubernetes) getOwned(ctx context.Context, obj client.Object, name string) (ok bool, err error) {
	err = k.c.Get(ctx, types.NamespacedName{Namespace: k.ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rollout %s: reading %s %s/%s: %w", k.rollout, kindOf(obj), k.ns, name, err)
	}
	if !k.owns(obj) {
		return false, invalid(kubeField+".workloadRef.name", "%s %s/%s already exists and does not belong to rollout %s; rename or delete it",
			kindOf(obj), k.ns, name, k.rollout)
	}
	return true, nil
}

// checkFree is getOwned for validation: an error only when the name is
// taken by an object of someone else.
func (k *Kubernetes) checkFree(ctx context.Context, obj client.Object, name string) error {
	_, err := k.getOwned(ctx, obj, name)
	return err
}

// owns reports whether obj has an owner reference to the Rollout.
func (k *Kubernetes) owns(obj client.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == k.owner.UID {
			return true
		}
	}
	return false
}

// deleteCopy deletes a copy (only that object, by UID, so a copy recreated
// meanwhile survives); its ReplicaSets and pods follow by garbage
// collection, the pods terminating gracefully.
func (k *Kubernetes) deleteCopy(ctx context.Context, d *appsv1.Deployment) error {
	if d.DeletionTimestamp != nil {
		return nil
	}
	uid := d.UID
	err := k.c.Delete(ctx, d, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rollout %s: deleting Deployment %s/%s: %w", k.rollout, k.ns, d.Name, err)
	}
	return nil
}

// revisionOf is the revision a Deployment is meant to run ("" when
// kanaria has not adopted it).
func revisionOf(d *appsv1.Deployment) string { return d.Annotations[LabelRevision] }

// kindOf names an object's kind for messages.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Service:
		return "Service"
	}
	return fmt.Sprintf("%T", obj)
}
