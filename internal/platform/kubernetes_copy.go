package platform

// How the Kubernetes platform turns a revision into objects: the plan
// (validated and rendered before anything is written), the target's patch,
// the copies, the Services, and a Deployment's state.

import (
	"context"
	"fmt"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// plan is a revision rendered against the target: everything Ensure
// writes, worked out (and validated) before it writes anything.
type plan struct {
	revision string
	port     int32
	// selector is the target's selector (matchLabels only: Services
	// cannot express more).
	selector map[string]string
	// containers are the spec's containers with rendered image and env.
	containers []renderedContainer
}

type renderedContainer struct {
	name  string
	image string
	env   []corev1.EnvVar
}

// plan validates the spec against the target for a revision and renders
// its templates. Every problem is an *InvalidError naming the field.
func (k *Kubernetes) plan(target *appsv1.Deployment, revision string) (*plan, error) {
	ref := kubeField + ".workloadRef.name"
	if errs := validation.IsValidLabelValue(revision); len(errs) > 0 || revision == "" {
		return nil, invalid("revision", "%q cannot be a label value (it labels the pods): %s", revision, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(k.rollout); len(errs) > 0 {
		return nil, invalid("metadata.name", "%q cannot be a label value (it labels the copies): %s", k.rollout, strings.Join(errs, "; "))
	}
	sel := target.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
		return nil, invalid(ref, "Deployment %s/%s must select its pods with matchLabels only (Services cannot express matchExpressions)", k.ns, target.Name)
	}
	if _, ok := sel.MatchLabels[LabelRole]; ok {
		return nil, invalid(ref, "Deployment %s/%s selects on %s, which kanaria sets itself", k.ns, target.Name, LabelRole)
	}
	p := &plan{revision: revision, selector: sel.MatchLabels}
	if len(k.spec.Containers) == 0 {
		return nil, invalid(kubeField+".containers", "empty: name at least one container of Deployment %s/%s", k.ns, target.Name)
	}
	seen := map[string]bool{}
	for i, ct := range k.spec.Containers {
		field := fmt.Sprintf("%s.containers[%d]", kubeField, i)
		c := findContainer(&target.Spec.Template.Spec, ct.Name)
		if c == nil {
			return nil, invalid(field+".name", "Deployment %s/%s has no container %q (it has %s)", k.ns, target.Name, ct.Name, containerNames(&target.Spec.Template.Spec))
		}
		if seen[ct.Name] {
			return nil, invalid(field+".name", "container %q is named twice", ct.Name)
		}
		seen[ct.Name] = true
		image, err := v1alpha1.RenderRevision(ct.Image, revision)
		if err != nil {
			return nil, invalid(field+".image", "template %q does not render: %v", ct.Image, err)
		}
		if strings.TrimSpace(image) == "" {
			return nil, invalid(field+".image", "template %q renders to an empty image for revision %s", ct.Image, revision)
		}
		rc := renderedContainer{name: ct.Name, image: image}
		for j, e := range ct.Env {
			if e.Name == "" {
				return nil, invalid(fmt.Sprintf("%s.env[%d].name", field, j), "empty")
			}
			v, err := v1alpha1.RenderRevision(e.Value, revision)
			if err != nil {
				return nil, invalid(fmt.Sprintf("%s.env[%d].value", field, j), "template %q does not render: %v", e.Value, err)
			}
			rc.env = append(rc.env, corev1.EnvVar{Name: e.Name, Value: v})
		}
		p.containers = append(p.containers, rc)
		if p.port == 0 && i == 0 && len(c.Ports) > 0 {
			p.port = c.Ports[0].ContainerPort
		}
	}
	if k.spec.Port != 0 {
		p.port = k.spec.Port
	}
	if p.port <= 0 || p.port > 65535 {
		return nil, invalid(kubeField+".port", "not set, and container %q of Deployment %s/%s declares no port to default to", k.spec.Containers[0].Name, k.ns, target.Name)
	}
	return p, nil
}

// apply renders the plan into a pod template for a role: the images, the
// env (replacing variables of the same name) and kanaria's labels.
func (p *plan) apply(tpl *corev1.PodTemplateSpec, role, rollout string) {
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	tpl.Labels[LabelRole] = role
	tpl.Labels[LabelRevision] = p.revision
	if role != RoleStable {
		tpl.Labels[LabelRollout] = rollout
	}
	for _, rc := range p.containers {
		c := findContainer(&tpl.Spec, rc.name)
		c.Image = rc.image
		for _, e := range rc.env {
			setEnv(c, e)
		}
	}
}

// setEnv sets one variable, replacing one of the same name (which may
// have come from a ConfigMap or field reference).
func setEnv(c *corev1.Container, e corev1.EnvVar) {
	for i := range c.Env {
		if c.Env[i].Name == e.Name {
			c.Env[i] = e
			return
		}
	}
	c.Env = append(c.Env, e)
}

func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

func containerNames(spec *corev1.PodSpec) string {
	names := make([]string, 0, len(spec.Containers))
	for _, c := range spec.Containers {
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	return strings.Join(names, ", ")
}

// ensureTarget makes the target run the plan's revision: the stable
// Service first, then the target's template and annotation, patched only
// when they differ (a strategic merge patch with the resourceVersion read,
// so a concurrent edit by the user is not overwritten but retried).
func (k *Kubernetes) ensureTarget(ctx context.Context, target *appsv1.Deployment, p *plan) error {
	var svc corev1.Service
	exists, err := k.getOwned(ctx, &svc, k.name(RoleStable))
	if err != nil {
		return err
	}
	if err := k.ensureService(ctx, &svc, exists, RoleStable, p); err != nil {
		return err
	}
	want := target.DeepCopy()
	p.apply(&want.Spec.Template, RoleStable, k.rollout)
	if want.Annotations == nil {
		want.Annotations = map[string]string{}
	}
	want.Annotations[LabelRevision] = p.revision
	if equality.Semantic.DeepEqual(target, want) {
		return nil
	}
	if err := k.c.Patch(ctx, want, client.StrategicMergeFrom(target, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("rollout %s: updating Deployment %s/%s to %s: %w", k.rollout, k.ns, target.Name, p.revision, err)
	}
	return nil
}

// ensureCopy makes the role's copy run the plan's revision, creating it,
// or patching it when it differs from what the target and the plan say.
// Its replica count is set when it is created or moved to another
// revision, and left alone otherwise: the replicas traffic provider scales
// the canary copy itself.
func (k *Kubernetes) ensureCopy(ctx context.Context, target *appsv1.Deployment, role string, p *plan) error {
	var svc corev1.Service
	svcExists, err := k.getOwned(ctx, &svc, k.name(role))
	if err != nil {
		return err
	}
	have, err := k.getCopy(ctx, role)
	if err != nil {
		return err
	}
	if have != nil && have.DeletionTimestamp != nil {
		return fmt.Errorf("rollout %s: Deployment %s/%s is being deleted; %s starts once it is gone", k.rollout, k.ns, have.Name, p.revision)
	}
	if role == RoleCanary && have != nil && revisionOf(have) != p.revision {
		// The copy may be serving users: as the promoted stable while the
		// old stable is kept warm in the target, or while the target rolls
		// to it. Repurposing it would take that revision away from them.
		return fmt.Errorf("rollout %s: Deployment %s/%s still runs %s (the stable revision until the target %s runs it, after the previous one is scaled down); %s starts after that",
			k.rollout, k.ns, have.Name, revisionOf(have), target.Name, p.revision)
	}
	if err := k.ensureService(ctx, &svc, svcExists, role, p); err != nil {
		return err
	}
	want := k.copyOf(target, role, p)
	if have == nil {
		if err := k.c.Create(ctx, want); err != nil {
			return fmt.Errorf("rollout %s: creating Deployment %s/%s: %w", k.rollout, k.ns, want.Name, err)
		}
		return nil
	}
	if !equality.Semantic.DeepEqual(have.Spec.Selector, want.Spec.Selector) {
		// A selector cannot change; the target's did. Delete the copy and
		// make it anew on the next Ensure.
		if err := k.deleteCopy(ctx, have); err != nil {
			return err
		}
		return fmt.Errorf("rollout %s: Deployment %s/%s had an outdated selector and was deleted; it is recreated on the next try", k.rollout, k.ns, have.Name)
	}
	up := have.DeepCopy()
	if up.Labels == nil {
		up.Labels = map[string]string{}
	}
	maps.Copy(up.Labels, want.Labels)
	if up.Annotations == nil {
		up.Annotations = map[string]string{}
	}
	moved := revisionOf(have) != p.revision
	maps.Copy(up.Annotations, want.Annotations)
	up.Spec.Template = want.Spec.Template
	up.Spec.Strategy = want.Spec.Strategy
	up.Spec.MinReadySeconds = want.Spec.MinReadySeconds
	up.Spec.ProgressDeadlineSeconds = want.Spec.ProgressDeadlineSeconds
	up.Spec.Paused = false
	if moved {
		up.Spec.Replicas = want.Spec.Replicas
	}
	if equality.Semantic.DeepEqual(have, up) {
		return nil
	}
	if err := k.c.Patch(ctx, up, client.MergeFromWithOptions(have, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("rollout %s: updating Deployment %s/%s to %s: %w", k.rollout, k.ns, have.Name, p.revision, err)
	}
	return nil
}

// copyOf is the role's copy as it should be: the target's spec with the
// plan applied, the role in its selector, and the Rollout as its owner.
// Only kanaria's labels go on the copy itself, not the target's: tools
// that track the user's objects by label (a GitOps agent) would take the
// copy for theirs and prune it.
func (k *Kubernetes) copyOf(target *appsv1.Deployment, role string, p *plan) *appsv1.Deployment {
	tpl := target.Spec.Template.DeepCopy()
	p.apply(tpl, role, k.rollout)
	sel := target.Spec.Selector.DeepCopy()
	sel.MatchLabels[LabelRole] = role
	replicas := int32(1)
	if k.spec.CanaryReplicas != nil {
		replicas = *k.spec.CanaryReplicas
	}
	if role == RoleBaseline && k.spec.BaselineReplicas != nil {
		replicas = *k.spec.BaselineReplicas
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            k.name(role),
			Namespace:       k.ns,
			Labels:          map[string]string{LabelRole: role, LabelRollout: k.rollout},
			Annotations:     map[string]string{LabelRevision: p.revision},
			OwnerReferences: []metav1.OwnerReference{k.owner},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			Selector:                sel,
			Template:                *tpl,
			Strategy:                target.Spec.Strategy,
			MinReadySeconds:         target.Spec.MinReadySeconds,
			RevisionHistoryLimit:    target.Spec.RevisionHistoryLimit,
			ProgressDeadlineSeconds: target.Spec.ProgressDeadlineSeconds,
		},
	}
}

// ensureService creates or patches a role's Service: the target's
// selector plus the role, one port named http to the plan's port. have is
// the Service read (exists says whether it was there).
func (k *Kubernetes) ensureService(ctx context.Context, have *corev1.Service, exists bool, role string, p *plan) error {
	sel := maps.Clone(p.selector)
	sel[LabelRole] = role
	ports := []corev1.ServicePort{{
		Name:       "http",
		Protocol:   corev1.ProtocolTCP,
		Port:       p.port,
		TargetPort: intstr.FromInt32(p.port),
	}}
	if !exists {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{
				Name:            k.name(role),
				Namespace:       k.ns,
				Labels:          map[string]string{LabelRole: role, LabelRollout: k.rollout},
				OwnerReferences: []metav1.OwnerReference{k.owner},
			},
			Spec: corev1.ServiceSpec{Selector: sel, Ports: ports},
		}
		if err := k.c.Create(ctx, svc); err != nil {
			return fmt.Errorf("rollout %s: creating Service %s/%s: %w", k.rollout, k.ns, svc.Name, err)
		}
		return nil
	}
	up := have.DeepCopy()
	up.Spec.Selector = sel
	up.Spec.Ports = ports
	if equality.Semantic.DeepEqual(have, up) {
		return nil
	}
	if err := k.c.Patch(ctx, up, client.MergeFromWithOptions(have, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("rollout %s: updating Service %s/%s: %w", k.rollout, k.ns, have.Name, err)
	}
	return nil
}

// stateOf is a Deployment's state behind the role's Service.
func (k *Kubernetes) stateOf(d *appsv1.Deployment, role string) State {
	ready, failed, reason := deploymentReady(d)
	port := k.spec.Port
	if port == 0 {
		port = firstPort(d, k.spec)
	}
	return State{
		Endpoints: []string{k.endpoint(role, port)},
		Ready:     ready,
		Failed:    failed,
		Reason:    reason,
	}
}

// firstPort is the port the spec defaults to, read from a Deployment that
// passed plan (so it is there).
func firstPort(d *appsv1.Deployment, spec v1alpha1.KubernetesPlatform) int32 {
	if len(spec.Containers) == 0 {
		return 0
	}
	if c := findContainer(&d.Spec.Template.Spec, spec.Containers[0].Name); c != nil && len(c.Ports) > 0 {
		return c.Ports[0].ContainerPort
	}
	return 0
}

// deploymentReady applies K8S-DESIGN.md's rules: Ready when the deployment
// controller has seen the latest spec and every replica is updated and
// ready with no old one left; Failed when its Progressing condition says
// the progress deadline passed. A status from an older generation says
// nothing about the current spec, so it is neither.
func deploymentReady(d *appsv1.Deployment) (ready, failed bool, reason string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration < d.Generation {
		return false, false, fmt.Sprintf("Deployment %s: waiting for the deployment controller to see generation %d", d.Name, d.Generation)
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return false, true, fmt.Sprintf("Deployment %s: %s", d.Name, c.Message)
		}
	}
	if s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want {
		return true, false, ""
	}
	return false, false, fmt.Sprintf("Deployment %s: %d of %d replicas updated, %d ready, %d in all", d.Name, s.UpdatedReplicas, want, s.ReadyReplicas, s.Replicas)
}
