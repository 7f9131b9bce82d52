package routersync

import (
	"context"
	"fmt"
	"maps"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// writeLease writes this replica's Lease: renewed now, holding the report of
// the table last applied. The Lease is the replica's alone (its name is the
// replica's id), so a conflict only means the object changed under us (a
// person deleted or edited it, or the previous process with this id wrote
// last): read it again and write once more.
func (s *Syncer) writeLease(ctx context.Context) error {
	ann, err := traffic.MarshalRouterReport(s.report)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.RenewInterval)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := s.putLease(ctx, ann)
		if err == nil || attempt == 1 || !(apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err)) {
			return err
		}
		s.lease = nil
	}
}

func (s *Syncer) putLease(ctx context.Context, ann string) error {
	key := types.NamespacedName{Namespace: s.opts.LeaseNamespace, Name: traffic.RouterLeaseName(s.opts.ID)}
	now := metav1.NewMicroTime(time.Now())
	if s.lease == nil {
		var l coordinationv1.Lease
		switch err := s.client.Get(ctx, key, &l); {
		case apierrors.IsNotFound(err):
			l := s.newLease(key, now, ann)
			if err := s.client.Create(ctx, l); err != nil {
				return fmt.Errorf("creating Lease %s: %w", key, err)
			}
			s.lease = l
			return nil
		case err != nil:
			return fmt.Errorf("reading Lease %s: %w", key, err)
		default:
			// Left by an earlier process with this id (a restarted pod):
			// this process holds it from now on.
			l.Spec.AcquireTime = &now
			s.lease = &l
		}
	}
	l := s.lease.DeepCopy()
	want := s.newLease(key, now, ann)
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	maps.Copy(l.Labels, want.Labels)
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	maps.Copy(l.Annotations, want.Annotations)
	if s.opts.Owner != nil {
		l.OwnerReferences = want.OwnerReferences
	}
	acquired := l.Spec.AcquireTime
	l.Spec = want.Spec
	if acquired != nil {
		l.Spec.AcquireTime = acquired
	}
	if err := s.client.Update(ctx, l); err != nil {
		return fmt.Errorf("renewing Lease %s: %w", key, err)
	}
	s.lease = l
	return nil
}

// newLease is this replica's Lease as it should be at now.
func (s *Syncer) newLease(key types.NamespacedName, now metav1.MicroTime, ann string) *coordinationv1.Lease {
	secs := int32(s.opts.LeaseDuration / time.Second)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: key.Name, Namespace: key.Namespace,
			Labels:      map[string]string{traffic.RouterComponentLabel: traffic.RouterComponent},
			Annotations: map[string]string{traffic.RouterReportAnnotation: ann},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &s.opts.ID,
			LeaseDurationSeconds: &secs,
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
	if s.opts.Owner != nil {
		l.OwnerReferences = []metav1.OwnerReference{*s.opts.Owner}
	}
	return l
}

// deleteLease removes this replica's Lease as it stops serving, so the
// controller stops counting it at once instead of when it expires. It runs
// after Run's context ended, so it has a short budget of its own.
func (s *Syncer) deleteLease() {
	if s.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.client.Delete(ctx, s.lease, client.Preconditions{UID: &s.lease.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Warn("deleting the router lease; it expires on its own", "err", err)
	}
}
