package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// memBackend is a test stand-in for the control plane: rollouts in memory
// with just enough of a state machine (start, step-by-step promote, pause,
// abort, ...) for the CLI's output to be checked against something that
// moves. The real control plane and engine are tested end to end by the
// lead engineer.
type memBackend struct {
	mu     sync.Mutex
	info   wire.Info
	views  map[string]*wire.RolloutView
	events map[string][]wire.Event
	nextID int64
}

func ptr[T any](v T) *T { return &v }

// testSteps are setWeight 0.1, an open pause, setWeight 50.
var testSteps = []v1alpha1.Step{
	{SetWeight: ptr(v1alpha1.Weight(1000))},
	{Pause: &v1alpha1.Pause{}},
	{SetWeight: ptr(v1alpha1.Weight(500_000))},
}

func newMemBackend(names ...string) *memBackend {
	m := &memBackend{
		info:   wire.Info{Version: "v9.9.9-test", RouterURL: "http://127.0.0.1:8080", DashboardURL: "http://127.0.0.1:7070/ui/"},
		views:  map[string]*wire.RolloutView{},
		events: map[string][]wire.Event{},
	}
	for _, n := range names {
		m.views[n] = &wire.RolloutView{
			Name: n, Strategy: "canary", Steps: testSteps, RouterURL: "http://127.0.0.1:8080",
			Status: v1alpha1.RolloutStatus{Rollout: n, Phase: v1alpha1.PhaseHealthy, StableRevision: "v1"},
		}
	}
	return m
}

func (m *memBackend) Info() wire.Info { return m.info }

func (m *memBackend) List(context.Context) ([]wire.RolloutView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.RolloutView
	for _, v := range m.views {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memBackend) Get(_ context.Context, name string) (wire.RolloutView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.views[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	return *v, nil
}

// set changes a rollout from a test, as the control plane would over time.
func (m *memBackend) set(name string, f func(*v1alpha1.RolloutStatus)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.views[name].Status)
	m.views[name].Status.Generation++
}

func conflict(format string, a ...any) error {
	return &wire.ConflictError{Reason: fmt.Sprintf(format, a...)}
}

func (m *memBackend) Do(_ context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.views[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	st := &v.Status
	active := st.Phase == v1alpha1.PhaseProgressing || st.Phase == v1alpha1.PhasePaused
	setStep := func(i int) {
		st.StepIndex = i
		for j := i; j >= 0; j-- {
			if j < len(v.Steps) && v.Steps[j].SetWeight != nil {
				ppm := *v.Steps[j].SetWeight
				st.Weights = v1alpha1.Weights{CanaryPPM: ppm, BaselinePPM: ppm}
				break
			}
		}
		st.Phase = v1alpha1.PhaseProgressing
		st.PausedBy = ""
		if i < len(v.Steps) && v.Steps[i].Pause != nil {
			st.Phase, st.PausedBy = v1alpha1.PhasePaused, "step"
		}
	}
	finish := func() {
		st.PreviousRevision, st.StableRevision, st.CanaryRevision = st.StableRevision, st.CanaryRevision, ""
		st.Phase, st.Weights, st.StepIndex, st.PausedBy = v1alpha1.PhaseHealthy, v1alpha1.Weights{}, 0, ""
	}
	switch cmd.Kind {
	case engine.CmdStart:
		if active && st.CanaryRevision == cmd.Revision {
			return *v, conflict("already releasing %s", cmd.Revision)
		}
		st.CanaryRevision = cmd.Revision
		setStep(0)
	case engine.CmdPromote:
		if !active {
			return *v, conflict("no release in progress")
		}
		if cmd.Full || st.StepIndex+1 >= len(v.Steps) {
			finish()
		} else {
			setStep(st.StepIndex + 1)
		}
	case engine.CmdPause:
		if st.Phase == v1alpha1.PhasePaused {
			return *v, conflict("already paused")
		}
		if !active {
			return *v, conflict("no release in progress")
		}
		st.Phase, st.PausedBy = v1alpha1.PhasePaused, "user"
	case engine.CmdResume:
		if st.Phase != v1alpha1.PhasePaused {
			return *v, conflict("not paused")
		}
		st.Phase, st.PausedBy = v1alpha1.PhaseProgressing, ""
	case engine.CmdAbort:
		if !active {
			return *v, conflict("no release in progress")
		}
		st.Phase, st.Weights, st.Message = v1alpha1.PhaseAborted, v1alpha1.Weights{}, "aborted: "+cmd.Reason
	case engine.CmdUndo:
		if st.PreviousRevision == "" {
			return *v, conflict("nothing to undo")
		}
		st.StableRevision, st.PreviousRevision = st.PreviousRevision, ""
	case engine.CmdStop:
		st.Phase, st.CanaryRevision, st.Weights, st.PausedBy = v1alpha1.PhaseHealthy, "", v1alpha1.Weights{}, ""
	}
	st.Generation++
	m.nextID++
	m.events[name] = append(m.events[name], wire.Event{
		ID: m.nextID, Rollout: name, Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Type: string(cmd.Kind), Message: fmt.Sprintf("%s %s", cmd.Kind, cmd.Revision),
	})
	return *v, nil
}

func (m *memBackend) Events(_ context.Context, name string, after int64, limit int) ([]wire.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.views[name]; !ok {
		return nil, wire.ErrNotFound
	}
	var out []wire.Event
	for _, e := range m.events[name] {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memBackend) Logs(_ context.Context, name, rev string, baseline bool, tail int, w io.Writer) error {
	if _, err := m.Get(context.Background(), name); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "log of %s tail=%d\n", engine.VersionKey(rev, baseline), tail)
	return err
}
