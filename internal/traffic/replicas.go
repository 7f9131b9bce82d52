package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// ReplicasAnnotation, on a Deployment, records the role it plays in a
// rollout's traffic under the replicas provider and, for the canary and the
// baseline, the weight asked for. Observe finds the rollout's Deployments by
// it (the stable role moves to the canary's Deployment during a promotion,
// so names and labels cannot say it), and Explain compares the achieved
// share with the asked one.
const ReplicasAnnotation = "kanaria.dev/replicas-traffic"

// replicasRecord is the value of ReplicasAnnotation.
type replicasRecord struct {
	Rollout string          `json:"rollout"`
	Role    string          `json:"role"`
	Asked   v1alpha1.Weight `json:"asked"`
}

// Replicas approximates a weight with the number of pods: the user's own
// Service selects the pods of every role (the copies carry the target's
// labels), so with one pod per request-handling unit the canary's share is
// its share of the ready pods. It is the seed's fallback for clusters with
// neither kanaria's router nor a Gateway: coarse (1 canary pod beside 3
// stable ones is 25 %, whatever was asked), not sticky, no overrides.
//
// Set scales the canary's (and the baseline's) Deployment, found as the
// Deployment behind the role's Service, to
//
//	round(stable replicas × w / (100 % − canary − baseline weights))
//
// pods, the count whose share of all pods is closest to w; at least 1 while
// the weight is above 0, 0 at weight 0 (a canary at 0 % must get no user),
// and at most the stable's replica count (so a release never more than
// doubles the pods; higher weights are reached by promotion). The stable
// Deployment, the user's target, is never scaled. Observe is the share of
// ready pods, so it differs from the weight asked: the provider declares
// Approximate and Explain says by how much.
type Replicas struct {
	c client.Client
}

// NewReplicas returns the replicas provider. c may read from a cache
// (Observe and Explain list Deployments on every reconcile); it needs
// Deployments and Services.
func NewReplicas(c client.Client) *Replicas { return &Replicas{c: c} }

// Capabilities: only Approximate. Not HeaderRoutes: a pod ratio cannot look
// at a request (spec validation refuses setHeaderRoute with this provider,
// and Set refuses an assignment with header routes).
func (r *Replicas) Capabilities() []Capability { return []Capability{Approximate} }

// Set scales the canary and baseline Deployments for a's weights, scales to
// 0 a canary or baseline the assignment no longer names (an abort moves its
// weight to 0 before the platform deletes it), and records every role.
func (r *Replicas) Set(ctx context.Context, a Assignment) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := CheckCapable(r, a); err != nil {
		return err
	}
	all, err := r.deployments(ctx, a.Namespace)
	if err != nil {
		return err
	}
	stable, err := r.behind(ctx, all, "stable", a.Stable, a.Namespace)
	if err != nil {
		return fmt.Errorf("rollout %s/%s: %w", a.Namespace, a.Rollout, err)
	}
	n := int32(1)
	if stable.Spec.Replicas != nil {
		n = *stable.Spec.Replicas
	}
	type want struct {
		d        *appsv1.Deployment
		rec      replicasRecord
		replicas *int32 // nil: leave the count alone
	}
	wants := []want{{d: stable, rec: replicasRecord{Rollout: a.Rollout, Role: "stable"}}}
	for _, side := range []struct {
		role string
		b    *Backend
		w    v1alpha1.Weight
	}{{"canary", a.Canary, a.Weights.CanaryPPM}, {"baseline", a.Baseline, a.Weights.BaselinePPM}} {
		if side.b == nil {
			continue
		}
		d, err := r.behind(ctx, all, side.role, *side.b, a.Namespace)
		if err != nil {
			return fmt.Errorf("rollout %s/%s: %w", a.Namespace, a.Rollout, err)
		}
		if d.Name == stable.Name {
			return fmt.Errorf("rollout %s/%s: the %s Service selects the stable Deployment %s", a.Namespace, a.Rollout, side.role, d.Name)
		}
		c := PodsFor(side.w, a.Weights, n)
		wants = append(wants, want{d: d, rec: replicasRecord{Rollout: a.Rollout, Role: side.role, Asked: side.w}, replicas: &c})
	}
	named := map[string]bool{}
	for _, w := range wants {
		named[w.d.Name] = true
	}
	// Deployments recorded for this rollout that the assignment no longer
	// names: a canary or baseline goes to 0 pods; a former stable (the old
	// target during a promotion in place) only loses its record.
	for i := range all {
		d := &all[i]
		rec, ok := readReplicasRecord(d)
		if !ok || rec.Rollout != a.Rollout || named[d.Name] {
			continue
		}
		w := want{d: d}
		if rec.Role != "stable" {
			zero := int32(0)
			w.replicas = &zero
		}
		wants = append(wants, w)
	}
	for _, w := range wants {
		var rec *replicasRecord
		if w.rec.Rollout != "" {
			rec = &w.rec
		}
		if err := r.write(ctx, w.d, rec, w.replicas); err != nil {
			return fmt.Errorf("rollout %s/%s: %w", a.Namespace, a.Rollout, err)
		}
	}
	return nil
}

// PodsFor is the replica count the replicas provider gives a role asked to
// carry w when the stable Deployment has stable replicas and the weights of
// the release are all: the count whose share of all the rollout's pods is
// nearest w, at least 1 for a weight above 0, at most stable (at least 1).
func PodsFor(w v1alpha1.Weight, all v1alpha1.Weights, stable int32) int32 {
	if w == 0 {
		return 0
	}
	limit := max(stable, 1)
	rest := int64(v1alpha1.PPM) - int64(all.CanaryPPM) - int64(all.BaselinePPM)
	if rest <= 0 {
		return limit
	}
	// round(w × stable / rest) in integers.
	c := (2*int64(w)*int64(stable) + rest) / (2 * rest)
	return int32(min(max(c, 1), int64(limit)))
}

// write patches a Deployment's record and replica count, when they differ.
// rec nil removes the record. The patch is a merge of those two fields
// only, so it never undoes what the platform writes at the same time, and
// the answer is the Deployment as stored: the read-back.
func (r *Replicas) write(ctx context.Context, d *appsv1.Deployment, rec *replicasRecord, replicas *int32) error {
	have, hadRec := readReplicasRecord(d)
	var val *string
	if rec != nil {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		s := string(b)
		val = &s
	}
	sameRec := (rec == nil && !hadRec) || (rec != nil && hadRec && have == *rec)
	sameReplicas := replicas == nil || (d.Spec.Replicas != nil && *d.Spec.Replicas == *replicas)
	if sameRec && sameReplicas {
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{ReplicasAnnotation: val}}}
	if !sameReplicas {
		patch["spec"] = map[string]any{"replicas": *replicas}
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	out := d.DeepCopy()
	if err := r.c.Patch(ctx, out, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if replicas != nil && (out.Spec.Replicas == nil || *out.Spec.Replicas != *replicas) {
		return fmt.Errorf("Deployment %s/%s: read back %v replicas after writing %d", d.Namespace, d.Name, out.Spec.Replicas, *replicas)
	}
	return nil
}

// readReplicasRecord reads ReplicasAnnotation; ok is false when there is
// none (or it is not kanaria's JSON).
func readReplicasRecord(d *appsv1.Deployment) (replicasRecord, bool) {
	v, ok := d.Annotations[ReplicasAnnotation]
	if !ok {
		return replicasRecord{}, false
	}
	var rec replicasRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Rollout == "" {
		return replicasRecord{}, false
	}
	return rec, true
}

// deployments lists the namespace's Deployments.
func (r *Replicas) deployments(ctx context.Context, ns string) ([]appsv1.Deployment, error) {
	var list appsv1.DeploymentList
	if err := r.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing Deployments in %s: %w", ns, err)
	}
	return list.Items, nil
}

// behind is the one Deployment whose pods the backend's Service selects.
func (r *Replicas) behind(ctx context.Context, all []appsv1.Deployment, role string, b Backend, ns string) (*appsv1.Deployment, error) {
	ref, err := backendService(role, b, ns)
	if err != nil {
		return nil, err
	}
	var svc corev1.Service
	if err := r.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &svc); err != nil {
		return nil, fmt.Errorf("%s Service %s/%s: %w", role, ns, ref.Name, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, fmt.Errorf("%s Service %s/%s has no selector", role, ns, ref.Name)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var found []*appsv1.Deployment
	for i := range all {
		if sel.Matches(labels.Set(all[i].Spec.Template.Labels)) {
			found = append(found, &all[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("%s Service %s/%s selects no Deployment's pods", role, ns, ref.Name)
	}
	names := make([]string, len(found))
	for i, d := range found {
		names[i] = d.Name
	}
	return nil, fmt.Errorf("%s Service %s/%s selects the pods of several Deployments (%s); the replicas provider needs one", role, ns, ref.Name, strings.Join(names, ", "))
}

// podCount is one role's pods as Observe sees them.
type podCount struct {
	ready   int32
	asked   v1alpha1.Weight
	settled bool
}

// count reads the rollout's recorded Deployments by role.
func (r *Replicas) count(ctx context.Context, ns, rollout string) (map[string]podCount, error) {
	all, err := r.deployments(ctx, ns)
	if err != nil {
		return nil, err
	}
	roles := map[string]podCount{}
	for i := range all {
		d := &all[i]
		rec, ok := readReplicasRecord(d)
		if !ok || rec.Rollout != rollout {
			continue
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		pc := roles[rec.Role]
		pc.ready += s.ReadyReplicas
		pc.asked = rec.Asked
		// Settled: the Deployment controller saw the last change and no
		// pod is left starting or terminating.
		pc.settled = s.ObservedGeneration >= d.Generation && s.ReadyReplicas == want && s.Replicas == want
		roles[rec.Role] = pc
	}
	return roles, nil
}

// Observe is the canary's and the baseline's share of the ready pods of the
// rollout's Deployments; ok is false until Set has recorded them and every
// one has the pods it should (a scale in progress is not a read-back).
func (r *Replicas) Observe(ctx context.Context, namespace, rollout string) (v1alpha1.Weights, bool, error) {
	roles, err := r.count(ctx, namespace, rollout)
	if err != nil {
		return v1alpha1.Weights{}, false, err
	}
	if _, ok := roles["stable"]; !ok {
		return v1alpha1.Weights{}, false, nil
	}
	var total int64
	for _, pc := range roles {
		if !pc.settled {
			return v1alpha1.Weights{}, false, nil
		}
		total += int64(pc.ready)
	}
	if total == 0 {
		return v1alpha1.Weights{}, false, nil
	}
	share := func(n int32) v1alpha1.Weight {
		return v1alpha1.Weight((int64(n)*v1alpha1.PPM + total/2) / total)
	}
	return v1alpha1.Weights{CanaryPPM: share(roles["canary"].ready), BaselinePPM: share(roles["baseline"].ready)}, true, nil
}

// Explain says what share the pods give against what was asked:
// "canary: 1 of 4 ready pods = 25%, asked 10%" (and the baseline likewise).
func (r *Replicas) Explain(ctx context.Context, namespace, rollout string) (string, error) {
	roles, err := r.count(ctx, namespace, rollout)
	if err != nil {
		return "", err
	}
	var total int64
	for _, pc := range roles {
		total += int64(pc.ready)
	}
	var parts []string
	for _, role := range []string{"canary", "baseline"} {
		pc, ok := roles[role]
		if !ok {
			continue
		}
		got := "0%"
		if total > 0 {
			got = v1alpha1.Weight((int64(pc.ready)*v1alpha1.PPM + total/2) / total).String()
		}
		p := fmt.Sprintf("%s: %d of %d ready pods = %s, asked %s", role, pc.ready, total, got, pc.asked)
		if !pc.settled {
			p += " (scaling)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return "approximate traffic by pod count: " + strings.Join(parts, "; "), nil
}
