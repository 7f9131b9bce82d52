// Package servertest is a control plane for tests of what stands in front of
// one (the API server, the Go client, the CLI): a server.Backend whose
// rollouts move by the real state machine, engine.Apply and engine.Reconcile,
// on a clock that moves only when a test says so. What the real control
// plane does at its edges is played in memory: every copy the engine asks to
// run is ready at the next Tick, the router serves exactly the weights the
// engine asked for, and events are kept in a slice instead of SQLite.
//
// It also records each call, and can fail the next one, so that a test can
// prove a refused request never reached the backend.
package servertest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/spec"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Start is the fake clock's first reading.
var Start = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// maxSettle bounds the reconciles of one Tick: the engine settles in a few;
// more would be a loop in the engine, which a test should see as a failure.
const maxSettle = 10

// Backend is the fake control plane. The zero value is not usable; call New.
type Backend struct {
	mu       sync.Mutex
	info     wire.Info
	now      time.Time
	rollouts map[string]*rollout
	events   []wire.Event
	calls    []string
	lastCmd  engine.Command
	lastLogs string
	failNext error
}

// rollout is one rollout's state: its status and what the pretend platform
// and router hold for it.
type rollout struct {
	spec    v1alpha1.Rollout
	status  v1alpha1.RolloutStatus
	running map[string]bool // version keys the engine asked to run
	traffic engine.Traffic  // the last assignment the engine asked for
}

// Canary is a canary rollout named name, stable v1, with a baseline and the
// steps setWeight 0.1, an open pause and setWeight 50.
func Canary(name string) v1alpha1.Rollout {
	w1, w50 := v1alpha1.Weight(1000), v1alpha1.Weight(500_000) // 0.1 % and 50 %
	r := v1alpha1.Rollout{
		APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout,
		Metadata: v1alpha1.Metadata{Name: name},
		Spec: v1alpha1.RolloutSpec{
			Revision: "v1",
			Platform: v1alpha1.Platform{Static: &v1alpha1.StaticPlatform{Revisions: map[string][]string{"v1": {"http://127.0.0.1:1"}}}},
			Strategy: v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
				Baseline: true,
				Steps:    []v1alpha1.Step{{SetWeight: &w1}, {Pause: &v1alpha1.Pause{}}, {SetWeight: &w50}},
			}},
		},
	}
	spec.SetDefaults(&r)
	return r
}

// New returns a control plane with info and the rollouts, each at its first
// status (engine.Initial) as a first `kanaria up` leaves it.
func New(info wire.Info, rollouts ...v1alpha1.Rollout) *Backend {
	b := &Backend{info: info, now: Start, rollouts: map[string]*rollout{}}
	for _, sp := range rollouts {
		r := &rollout{spec: sp, running: map[string]bool{}}
		st, acts := engine.Initial(sp, b.now)
		r.status = st
		b.act(r, acts)
		b.rollouts[sp.Metadata.Name] = r
	}
	return b
}

// act carries out actions as the control plane would, in memory.
func (b *Backend) act(r *rollout, acts []engine.Action) {
	for _, a := range acts {
		switch a.Kind {
		case engine.ActEnsureVersion:
			r.running[engine.VersionKey(a.Revision, a.Baseline)] = true
		case engine.ActStopVersion:
			delete(r.running, engine.VersionKey(a.Revision, a.Baseline))
		case engine.ActSetTraffic:
			r.traffic = *a.Traffic
		case engine.ActRecordEvent:
			b.addEvent(r.spec.Metadata.Name, a.Event.Type, a.Event.Message, a.Event.Time)
		}
	}
}

func (b *Backend) addEvent(name, typ, msg string, t time.Time) {
	var id int64 = 1
	if n := len(b.events); n > 0 {
		id = b.events[n-1].ID + 1
	}
	b.events = append(b.events, wire.Event{ID: id, Rollout: name, Time: t, Type: typ, Message: msg})
}

// Tick moves the clock on by d and reconciles every rollout until it
// settles, as the control plane's loop does, with every copy the engine
// asked for ready and the router serving the weights it asked for.
func (b *Backend) Tick(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
	for _, r := range b.rollouts {
		for range maxSettle {
			if !b.reconcile(r) {
				break
			}
		}
	}
}

// reconcile is one engine step with every running copy ready and the
// router serving what it was last told; it reports whether anything
// changed.
func (b *Backend) reconcile(r *rollout) bool {
	obs := engine.Observations{Versions: map[string]engine.VersionState{}, RouterWeights: &r.traffic.Weights}
	for key := range r.running {
		obs.Versions[key] = engine.VersionState{Ready: true}
	}
	st, acts := engine.Reconcile(r.spec, r.status, obs, b.now)
	if st.Generation == r.status.Generation && len(acts) == 0 {
		return false
	}
	r.status = st
	b.act(r, acts)
	return true
}

// Now is the fake clock's reading.
func (b *Backend) Now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

// Remove forgets a rollout, as a control plane restarted without it would.
func (b *Backend) Remove(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.rollouts, name)
}

// AddEvent appends an event to a rollout's history, as one from outside
// the engine (an analysis verdict) would be.
func (b *Backend) AddEvent(name, typ, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addEvent(name, typ, msg, b.now)
}

// FailNext makes the next call of any method return err.
func (b *Backend) FailNext(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failNext = err
}

// Calls are the methods called so far, in order.
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// LastCommand is the last command Do received.
func (b *Backend) LastCommand() engine.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastCmd
}

// LastLogs is the last Logs call's arguments, "revision baseline tail".
func (b *Backend) LastLogs() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastLogs
}

// call records a call and returns the error FailNext set, once. The caller
// holds b.mu.
func (b *Backend) call(name string) error {
	b.calls = append(b.calls, name)
	err := b.failNext
	b.failNext = nil
	return err
}

// Info describes the pretend control plane.
func (b *Backend) Info() wire.Info {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.call("Info")
	return b.info
}

// List returns every rollout, sorted by name.
func (b *Backend) List(context.Context) ([]wire.RolloutView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.call("List"); err != nil {
		return nil, err
	}
	var out []wire.RolloutView
	for _, r := range b.rollouts {
		out = append(out, b.view(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns one rollout.
func (b *Backend) Get(_ context.Context, name string) (wire.RolloutView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.call("Get"); err != nil {
		return wire.RolloutView{}, err
	}
	r, ok := b.rollouts[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	return b.view(r), nil
}

// Do applies a command with engine.Apply and answers as the control plane
// does: a command already in effect is a Note, one that does not apply a
// *wire.ConflictError.
func (b *Backend) Do(_ context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.call("Do"); err != nil {
		return wire.RolloutView{}, err
	}
	b.lastCmd = cmd
	r, ok := b.rollouts[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	st, acts, err := engine.Apply(r.spec, r.status, cmd, b.now)
	if err == nil {
		r.status = st
		b.act(r, acts)
		// As the control plane does after a command: the in-memory router
		// applied the weights at once, so the step waiting for their
		// read-back starts now, not on the next Tick.
		for i := 0; i < maxSettle && engine.WaitsForReadBack(r.status); i++ {
			if !b.reconcile(r) {
				break
			}
		}
	}
	return wire.CommandOutcome(name, b.view(r), err)
}

// Events returns up to limit events of a rollout after an ID.
func (b *Backend) Events(_ context.Context, name string, afterID int64, limit int) ([]wire.Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.call("Events"); err != nil {
		return nil, err
	}
	if _, ok := b.rollouts[name]; !ok {
		return nil, wire.ErrNotFound
	}
	var out []wire.Event
	for _, e := range b.events {
		if e.Rollout == name && e.ID > afterID && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// Logs writes one line, "log of VERSION tail=N", for a copy that runs;
// a revision that does not run has no instances to read.
func (b *Backend) Logs(_ context.Context, name, revision string, baseline bool, tail int, w io.Writer) error {
	b.mu.Lock()
	if err := b.call("Logs"); err != nil {
		b.mu.Unlock()
		return err
	}
	b.lastLogs = fmt.Sprintf("%s %v %d", revision, baseline, tail)
	r, ok := b.rollouts[name]
	key := engine.VersionKey(revision, baseline)
	running := ok && r.running[key]
	b.mu.Unlock()
	switch {
	case !ok:
		return wire.ErrNotFound
	case !running:
		return fmt.Errorf("no instances of %s", key)
	}
	_, err := fmt.Fprintf(w, "log of %s tail=%d\n", key, tail)
	return err
}

// view is a rollout as the API shows it. The caller holds b.mu.
func (b *Backend) view(r *rollout) wire.RolloutView {
	return wire.NewRolloutView(r.spec, r.status, b.info.RouterURL)
}
