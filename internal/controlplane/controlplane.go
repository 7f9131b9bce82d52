// Package controlplane runs kanaria's releases on one machine: it feeds the
// engine with commands and observations, persists each transition before it
// acts on it, and carries out the engine's actions at the edges (platform
// processes, the embedded router, the event store).
//
// The loop is level-triggered where it can be: every tick the router table is
// rebuilt from each rollout's traffic and the platform's live endpoints, so a
// restarted process on a new port is picked up without a transition. After a
// restart (or a kill -9) the desired world is derived from the stored status
// and re-applied, which is why a release resumes at the same step with the
// same weights.
package controlplane

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/store"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Options configure a ControlPlane.
type Options struct {
	// StateDir holds the database and the router salt.
	StateDir string
	// DataPlane runs the router and the versions.
	DataPlane DataPlane
	// Rollouts are the specs to run (from kanaria.yaml).
	Rollouts []v1alpha1.Rollout
	// RouterURL and APIURL are reported by Info.
	RouterURL, APIURL string
	// Tick is the reconcile interval; default 200ms.
	Tick time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the transitions, events and failures; nil discards.
	Logger *slog.Logger
}

// ControlPlane owns the rollouts and the store, and drives the data plane.
type ControlPlane struct {
	opts     Options
	log      *slog.Logger
	store    *store.Store
	router   *routerView
	salt     string
	rollouts map[string]*rollout
	names    []string

	routerMu    sync.Mutex // serializes router table rebuilds
	lastApplied *router.Config

	historyOnce sync.Once
	history     *historyStore // per-version metrics over time, for charts

	health health // of the data plane (heal.go)
}

// New opens the state directory, restores every rollout's status (or starts
// it fresh), and re-applies the desired world derived from it.
func New(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.Tick <= 0 {
		opts.Tick = 200 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.Rollouts) == 0 {
		return nil, errors.New("no rollouts to run")
	}
	if opts.DataPlane == nil {
		return nil, errors.New("no data plane")
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	salt, err := loadOrCreateSalt(filepath.Join(opts.StateDir, wire.SaltFile))
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(opts.StateDir, wire.DBFile))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	c := &ControlPlane{opts: opts, store: st, salt: salt, rollouts: map[string]*rollout{},
		log: opts.Logger, router: &routerView{dp: opts.DataPlane, log: opts.Logger}}
	// A data plane that outlived a previous control plane serves a table:
	// start from it, so nothing is dropped before the platforms answer.
	if cfg, err := opts.DataPlane.RouterConfig(ctx); err == nil && len(cfg.Releases) > 0 {
		c.lastApplied = &cfg
	}
	c.health.id = opts.DataPlane.ID()
	for _, sp := range opts.Rollouts {
		r, err := c.openRollout(ctx, sp)
		if err != nil {
			c.Close(context.Background())
			return nil, fmt.Errorf("rollout %s: %w", sp.Metadata.Name, err)
		}
		c.rollouts[sp.Metadata.Name] = r
		c.names = append(c.names, sp.Metadata.Name)
	}
	sort.Strings(c.names)
	c.syncRouter()
	return c, nil
}

// Run reconciles every rollout each tick until ctx ends.
func (c *ControlPlane) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.checkDataPlane(ctx)
			for _, name := range c.names {
				c.reconcile(ctx, c.rollouts[name])
			}
			c.syncRouter()
			c.recordHistory()
		}
	}
}

// Close stores the running analyses' evidence, releases the platforms and
// closes the store. What runs in the data plane keeps running: stopping it
// is the caller's decision.
func (c *ControlPlane) Close(ctx context.Context) error {
	var errs []error
	errs = append(errs, c.closeNotifiers(ctx))
	for _, r := range c.rollouts {
		c.stopAnalyses(ctx, r)
		if err := r.pf().Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.store.Close())
	return errors.Join(errs...)
}

// loadOrCreateSalt keeps the stickiness salt across restarts: a new salt would
// move every user to a different bucket.
func loadOrCreateSalt(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read salt: %w", err)
	}
	salt := rand.Text()
	if err := wire.WriteFileAtomic(path, []byte(salt+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write salt: %w", err)
	}
	return salt, nil
}
