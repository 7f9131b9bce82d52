package server

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// memBackend is a test stand-in for the control plane: an in-memory Backend
// whose only logic is what the API's error mapping needs (unknown rollouts,
// commands that do not apply). The real control plane is tested end to end
// by the lead engineer. It records every call so tests can prove that a
// refused request never reached it.
type memBackend struct {
	mu       sync.Mutex
	info     wire.Info
	views    map[string]wire.RolloutView
	events   map[string][]wire.Event
	logs     map[string]string // by VersionKey
	calls    []string
	lastCmd  engine.Command
	lastLogs string // "rev baseline tail" of the last Logs call
	failNext error
}

func newMemBackend() *memBackend {
	return &memBackend{
		info: wire.Info{Version: "test", RouterURL: "http://127.0.0.1:8080", APIURL: "http://127.0.0.1:7070", StateDir: "/tmp/x"},
		views: map[string]wire.RolloutView{
			"web": {Name: "web", Strategy: "canary", Status: v1alpha1.RolloutStatus{Rollout: "web", Phase: v1alpha1.PhaseHealthy, StableRevision: "v1"}},
		},
		events: map[string][]wire.Event{
			"web": {
				{ID: 1, Rollout: "web", Type: "Started", Message: "releasing v2"},
				{ID: 2, Rollout: "web", Type: "StepReached", Message: "step 1"},
				{ID: 3, Rollout: "web", Type: "Paused", Message: "paused by user"},
			},
		},
		logs: map[string]string{"v1": "one\ntwo\n", "v1+baseline": "base\n"},
	}
}

func (m *memBackend) record(call string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, call)
	err := m.failNext
	m.failNext = nil
	return err
}

func (m *memBackend) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

func (m *memBackend) Info() wire.Info {
	_ = m.record("wire.Info")
	return m.info
}

func (m *memBackend) List(ctx context.Context) ([]wire.RolloutView, error) {
	if err := m.record("List"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.RolloutView
	for _, v := range m.views {
		out = append(out, v)
	}
	return out, nil
}

func (m *memBackend) Get(ctx context.Context, name string) (wire.RolloutView, error) {
	if err := m.record("Get"); err != nil {
		return wire.RolloutView{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.views[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	return v, nil
}

func (m *memBackend) Do(ctx context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	if err := m.record("Do"); err != nil {
		return wire.RolloutView{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastCmd = cmd
	v, ok := m.views[name]
	if !ok {
		return wire.RolloutView{}, wire.ErrNotFound
	}
	switch cmd.Kind {
	case engine.CmdStart:
		v.Status.Phase, v.Status.CanaryRevision = v1alpha1.PhaseProgressing, cmd.Revision
	case engine.CmdPause:
		if v.Status.Phase == v1alpha1.PhasePaused {
			return v, &wire.ConflictError{Reason: "already paused"}
		}
		v.Status.Phase = v1alpha1.PhasePaused
	default:
		return v, &wire.ConflictError{Reason: fmt.Sprintf("%s does not apply", cmd.Kind)}
	}
	v.Status.Generation++
	m.views[name] = v
	return v, nil
}

func (m *memBackend) Events(ctx context.Context, name string, afterID int64, limit int) ([]wire.Event, error) {
	if err := m.record("Events"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	evs, ok := m.events[name]
	if !ok {
		return nil, wire.ErrNotFound
	}
	var out []wire.Event
	for _, e := range evs {
		if e.ID > afterID && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memBackend) Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error {
	if err := m.record("Logs"); err != nil {
		return err
	}
	m.mu.Lock()
	m.lastLogs = fmt.Sprintf("%s %v %d", revision, baseline, tail)
	text, ok := m.logs[engine.VersionKey(revision, baseline)]
	_, known := m.views[name]
	m.mu.Unlock()
	if !known {
		return wire.ErrNotFound
	}
	if !ok {
		return fmt.Errorf("no instances of %s", engine.VersionKey(revision, baseline))
	}
	_, err := io.WriteString(w, text)
	return err
}
