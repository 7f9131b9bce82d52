// Package cluster is the kanaria API over a Kubernetes cluster: the Rollouts
// of one namespace, read and commanded as the CLI and the dashboard read and
// command a one-machine control plane. It implements server.Backend, so
// `kanaria dashboard` serves the existing dashboard for a cluster, and the
// CLI's commands use it against a cluster.
//
// It drives no release itself: `kanaria controller` does. A command is the
// small patch of the Rollout a kubectl user could write (K8S-DESIGN.md,
// "Controller"): spec.revision for start, spec.paused for pause and resume,
// the kanaria.dev/command annotation for promote, promote --full, abort, undo
// and stop. What the Rollout's status says is what the controller did.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Scheme returns a new scheme with what a Backend reads and writes: the
// Rollout and Kubernetes' built-in types (Events).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := kanariav1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Options configure a Backend.
type Options struct {
	// Namespace holds the Rollouts served (required).
	Namespace string
	// Reader serves List, Get and Events: an informer cache for a
	// long-running dashboard (see EventIndex), or nil to read through the
	// Client as a one-shot CLI command does. Commands always read the
	// Rollout through the Client first, so their precondition is the
	// object as stored.
	Reader client.Reader
	// Info is what Info returns (version, the dashboard's URL).
	Info wire.Info
	// Now is the clock for predicting a command's outcome; nil: time.Now.
	Now func() time.Time
}

// Backend is the Rollouts of one namespace as kanaria's API serves them.
type Backend struct {
	c    client.Client
	r    client.Reader
	ns   string
	info wire.Info
	now  func() time.Time
}

// New returns a Backend that writes through c. c's scheme must know the
// Rollout and corev1 (Scheme does).
func New(c client.Client, opts Options) (*Backend, error) {
	if opts.Namespace == "" {
		return nil, errors.New("cluster: a namespace is required")
	}
	b := &Backend{c: c, r: opts.Reader, ns: opts.Namespace, info: opts.Info, now: opts.Now}
	if b.r == nil {
		b.r = c
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b, nil
}

// Namespace is the namespace whose Rollouts b serves.
func (b *Backend) Namespace() string { return b.ns }

// Info describes what serves the API (server.Backend).
func (b *Backend) Info() wire.Info { return b.info }

// List returns the namespace's Rollouts by name.
func (b *Backend) List(ctx context.Context) ([]wire.RolloutView, error) {
	var list kanariav1alpha1.RolloutList
	if err := b.r.List(ctx, &list, client.InNamespace(b.ns)); err != nil {
		return nil, fmt.Errorf("listing Rollouts in namespace %s: %w", b.ns, err)
	}
	slices.SortFunc(list.Items, func(x, y kanariav1alpha1.Rollout) int { return strings.Compare(x.Name, y.Name) })
	views := make([]wire.RolloutView, 0, len(list.Items))
	for i := range list.Items {
		views = append(views, View(&list.Items[i]))
	}
	return views, nil
}

// Get returns one Rollout; an unknown name is wire.ErrNotFound.
func (b *Backend) Get(ctx context.Context, name string) (wire.RolloutView, error) {
	ro, err := b.get(ctx, b.r, name)
	if err != nil {
		return wire.RolloutView{}, err
	}
	return View(ro), nil
}

// Logs is not served: a cluster's pods are ordinary pods, whose output
// kubectl shows; the error says which command shows the asked revision's.
func (b *Backend) Logs(ctx context.Context, name, revision string, baseline bool, tail int, _ io.Writer) error {
	ro, err := b.get(ctx, b.r, name)
	if err != nil {
		return err
	}
	k := ro.Spec.Platform.Kubernetes
	if k == nil {
		return fmt.Errorf("rollout %s has no kubernetes platform, and kanaria shows no pod logs in a cluster", name)
	}
	// The copies are named <target>-canary and <target>-baseline; the
	// target itself runs the stable revision (K8S-DESIGN.md).
	deploy := k.WorkloadRef.Name
	switch {
	case baseline:
		deploy += "-baseline"
	case revision != "" && revision == ro.Status.CanaryRevision:
		deploy += "-canary"
	}
	return fmt.Errorf("kanaria shows no pod logs in a cluster; run: kubectl logs -n %s deployment/%s --all-containers --tail %d", b.ns, deploy, tail)
}

// get reads a Rollout through r.
func (b *Backend) get(ctx context.Context, r client.Reader, name string) (*kanariav1alpha1.Rollout, error) {
	var ro kanariav1alpha1.Rollout
	err := r.Get(ctx, client.ObjectKey{Namespace: b.ns, Name: name}, &ro)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &notFoundError{name: name, ns: b.ns}
	case err != nil:
		return nil, fmt.Errorf("reading Rollout %s/%s: %w", b.ns, name, err)
	}
	return &ro, nil
}

// notFoundError is an unknown Rollout: wire.ErrNotFound, worded with the
// namespace it was looked for in.
type notFoundError struct{ name, ns string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("no rollout %q in namespace %s", e.name, e.ns)
}

func (e *notFoundError) Unwrap() error { return wire.ErrNotFound }

// View is a Rollout as kanaria's API shows it: the same RolloutView a
// one-machine control plane returns, so the CLI and the dashboard print a
// cluster's Rollouts with the code they print the others with.
func View(ro *kanariav1alpha1.Rollout) wire.RolloutView {
	return wire.NewRolloutView(engineRollout(ro), ro.Status, "")
}

// engineRollout is the Rollout as the engine takes it, defaults filled in
// as the controller fills them.
func engineRollout(ro *kanariav1alpha1.Rollout) v1alpha1.Rollout {
	r := v1alpha1.Rollout{
		APIVersion: v1alpha1.APIVersion,
		Kind:       v1alpha1.KindRollout,
		Metadata:   v1alpha1.Metadata{Name: ro.Name},
		Spec:       *ro.Spec.DeepCopy(),
	}
	spec.SetDefaults(&r)
	return r
}
