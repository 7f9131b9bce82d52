package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// EventIndex is the field Events selects a Rollout's Events by. The API
// server answers it as a field selector; an informer cache serving as
// Options.Reader needs the index IndexEvents adds.
const EventIndex = "involvedObject.name"

// IndexEvents adds EventIndex to a cache's Events, before the cache starts.
func IndexEvents(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &corev1.Event{}, EventIndex, func(o client.Object) []string {
		return []string{o.(*corev1.Event).InvolvedObject.Name}
	})
}

// Events returns up to limit of a Rollout's Kubernetes Events with an ID
// greater than after, oldest first: the controller records one per engine
// event, its reason the event's type (K8S-DESIGN.md), so this is the
// Rollout's history as `kubectl describe rollout` shows it.
//
// An Event's ID is its resourceVersion, which the API server takes from
// etcd's revision counter: it grows with every write in the cluster, so a
// reader that pages with after=ID misses nothing new, and an Event the
// recorder counted again (same reason and message, count+1) comes again
// with its new count. Kubernetes calls resourceVersions opaque; one that is
// not an integer is given ID 0 and shown only to a reader from the start.
// The API server keeps Events for an hour by default (--event-ttl), so older
// history is gone.
func (b *Backend) Events(ctx context.Context, name string, after int64, limit int) ([]wire.Event, error) {
	ro, err := b.get(ctx, b.r, name)
	if err != nil {
		return nil, err
	}
	var list corev1.EventList
	if err := b.r.List(ctx, &list, client.InNamespace(b.ns), client.MatchingFields{EventIndex: name}); err != nil {
		return nil, fmt.Errorf("listing the Events of Rollout %s/%s: %w", b.ns, name, err)
	}
	group := kanariav1alpha1.GroupVersion.Group
	evs := []wire.Event{}
	for i := range list.Items {
		e := &list.Items[i]
		io := e.InvolvedObject
		// Not an Event of an earlier Rollout of the same name, nor of
		// another kind's object of that name.
		if io.Kind != "Rollout" || !strings.HasPrefix(io.APIVersion, group+"/") || (io.UID != "" && io.UID != ro.UID) {
			continue
		}
		id, _ := strconv.ParseInt(e.ResourceVersion, 10, 64)
		if id <= after && !(id == 0 && after == 0) {
			continue
		}
		msg := e.Message
		if e.Count > 1 {
			msg = fmt.Sprintf("%s (%d times)", msg, e.Count)
		}
		evs = append(evs, wire.Event{ID: id, Rollout: name, Time: eventTime(e), Type: e.Reason, Message: msg})
	}
	slices.SortStableFunc(evs, func(x, y wire.Event) int {
		if x.ID != y.ID {
			return cmp.Compare(x.ID, y.ID)
		}
		return x.Time.Compare(y.Time)
	})
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return evs, nil
}

// eventTime is when an Event last happened, from whichever field the
// recorder that wrote it fills: events.k8s.io/v1 recorders write eventTime
// and a series, core/v1 recorders the timestamps and a count.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
