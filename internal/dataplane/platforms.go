package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
)

// errUnknownRollout: an instance call for a rollout whose platform was
// never defined (the client defines it first; see Client.Platform).
var errUnknownRollout = errors.New("no platform defined for this rollout")

// platforms holds one platform per rollout, built from the spec the
// control plane sends. They live as long as the data plane, so a control
// plane that restarts finds its instances still running.
type platforms struct {
	logDir, kanaria string
	log             *slog.Logger

	mu     sync.Mutex
	byName map[string]*entry
	closed bool
}

// entry is one rollout's platform. A redefinition with a different spec
// builds a new platform for instances started from then on; the old one is
// kept as retired so its running instances keep serving and can still be
// observed, logged and stopped (a restart must never kill a live stable).
type entry struct {
	spec    []byte // canonical JSON of the v1alpha1.Platform
	current platform.Platform
	retired []platform.Platform
	running map[string]bool // version keys ensured and not stopped
}

func newPlatforms(logDir, kanaria string, log *slog.Logger) *platforms {
	return &platforms{logDir: logDir, kanaria: kanaria, log: log, byName: map[string]*entry{}}
}

// capabilities are what a spec's platform kind can do, without building it.
func capabilities(p platform.Platform) []platform.Capability {
	if c := p.Capabilities(); c != nil {
		return c
	}
	return []platform.Capability{}
}

// define creates or replaces rollout's platform definition and returns its
// capabilities. The same spec again changes nothing.
func (ps *platforms) define(rollout string, sp v1alpha1.Platform) ([]platform.Capability, error) {
	canon, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errors.New("data plane is shutting down")
	}
	e := ps.byName[rollout]
	if e != nil && bytes.Equal(e.spec, canon) {
		return capabilities(e.current), nil
	}
	var p platform.Platform
	switch {
	case sp.Kubernetes != nil:
		return nil, errors.New("platform: kubernetes runs only in a cluster, under `kanaria controller`")
	case sp.Local != nil && sp.Static != nil:
		return nil, errors.New("platform: set local or static, not both")
	case sp.Local != nil:
		p = platform.NewLocal(rollout, *sp.Local, platform.LocalOptions{LogDir: ps.logDir, KanariaPath: ps.kanaria, Logger: ps.log})
	case sp.Static != nil:
		p = platform.NewStatic(*sp.Static)
	default:
		return nil, errors.New("platform: neither local nor static")
	}
	if e == nil {
		ps.byName[rollout] = &entry{spec: canon, current: p, running: map[string]bool{}}
		ps.log.Info("platform defined", "rollout", rollout)
		return capabilities(p), nil
	}
	if platform.Has(e.current, platform.CanStart) {
		e.retired = append(e.retired, e.current)
	}
	e.spec, e.current = canon, p
	ps.log.Info("platform redefined; running instances keep running", "rollout", rollout)
	return capabilities(p), nil
}

// get returns the entry's platforms, newest first, without holding the lock
// while they work (Stop waits out grace periods).
func (ps *platforms) get(rollout string) ([]platform.Platform, *entry, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	e := ps.byName[rollout]
	if e == nil {
		return nil, nil, fmt.Errorf("rollout %s: %w", rollout, errUnknownRollout)
	}
	all := append([]platform.Platform{e.current}, e.retired...)
	return all, e, nil
}

// ensure starts in unless an instance of it already runs on this or a
// retired definition.
func (ps *platforms) ensure(ctx context.Context, in platform.Instance) error {
	all, e, err := ps.get(in.Rollout)
	if err != nil {
		return err
	}
	key := engine.VersionKey(in.Revision, in.Baseline)
	for _, old := range all[1:] {
		if _, ok := old.State(in); ok {
			return nil
		}
	}
	if err := all[0].Ensure(ctx, in); err != nil {
		return err
	}
	ps.mu.Lock()
	e.running[key] = true
	ps.mu.Unlock()
	return nil
}

// stop stops in wherever it runs.
func (ps *platforms) stop(ctx context.Context, in platform.Instance) error {
	all, e, err := ps.get(in.Rollout)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range all {
		errs = append(errs, p.Stop(ctx, in))
	}
	ps.mu.Lock()
	delete(e.running, engine.VersionKey(in.Revision, in.Baseline))
	ps.mu.Unlock()
	return errors.Join(errs...)
}

// state reports in from the definition that runs it.
func (ps *platforms) state(in platform.Instance) (platform.State, bool, error) {
	all, _, err := ps.get(in.Rollout)
	if err != nil {
		return platform.State{}, false, err
	}
	for _, p := range all {
		if st, ok := p.State(in); ok {
			return st, true, nil
		}
	}
	return platform.State{}, false, nil
}

// logs writes in's logs from the first definition that has them.
func (ps *platforms) logs(in platform.Instance, tail int, w io.Writer) error {
	all, _, err := ps.get(in.Rollout)
	if err != nil {
		return err
	}
	err = fmt.Errorf("rollout %s: its platform keeps no logs", in.Rollout)
	for _, p := range all {
		l, ok := p.(interface {
			Logs(platform.Instance, int, io.Writer) error
		})
		if !ok || !platform.Has(p, platform.HasLogs) {
			continue
		}
		if err = l.Logs(in, tail, w); err == nil {
			return nil
		}
	}
	return err
}

// remove stops everything of one rollout and forgets its platform.
func (ps *platforms) remove(ctx context.Context, rollout string) error {
	all, _, err := ps.get(rollout)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	delete(ps.byName, rollout)
	ps.mu.Unlock()
	return closeEach(ctx, all)
}

// closeAll stops every instance of every rollout and refuses new
// definitions; it returns how many instances were running.
func (ps *platforms) closeAll(ctx context.Context) (int, error) {
	ps.mu.Lock()
	ps.closed = true
	var all []platform.Platform
	n := 0
	for _, e := range ps.byName {
		all = append(all, e.current)
		all = append(all, e.retired...)
		n += len(e.running)
	}
	ps.byName = map[string]*entry{}
	ps.mu.Unlock()
	return n, closeEach(ctx, all)
}

// closeEach closes platforms in parallel so their grace periods overlap.
func closeEach(ctx context.Context, all []platform.Platform) error {
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Close(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
