package run

import (
	"context"
	"sync"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
)

// remoteFetches runs one analysis's remote provider calls (prometheus, web)
// beside the pass: each metric has at most one call in flight, bounded by
// the provider's own timeout and cancelled when the analysis ends, and its
// answer waits here until the next pass takes it. The pass never waits for
// the network, so a provider that hangs holds up neither this rollout's
// commands nor any other rollout's steps.
type remoteFetches struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	inflight map[int]bool
	arrived  map[int]judge.Input
}

func newRemoteFetches() *remoteFetches {
	ctx, cancel := context.WithCancel(context.Background())
	return &remoteFetches{ctx: ctx, cancel: cancel, inflight: map[int]bool{}, arrived: map[int]judge.Input{}}
}

// start asks provider p for metric i in a goroutine, unless a call for it
// is still in flight (a slow provider is not asked again meanwhile).
func (f *remoteFetches) start(i int, p provider.Provider, q provider.Query) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inflight[i] || f.ctx.Err() != nil {
		return
	}
	f.inflight[i] = true
	go func() {
		in := provider.Fetch(f.ctx, p, q)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.inflight[i] = false
		if f.ctx.Err() == nil { // an ended analysis takes no answers
			f.arrived[i] = in
		}
	}()
}

// take returns the answers that came since the last call, by metric index.
func (f *remoteFetches) take() map[int]judge.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.arrived) == 0 {
		return nil
	}
	got := f.arrived
	f.arrived = map[int]judge.Input{}
	return got
}

// takeArrivals moves the remote answers that came into the run's inputs;
// it reports whether there were any.
func (r *Run) takeArrivals() bool {
	got := r.fetch.take()
	for i, in := range got {
		r.inputs[r.metrics[i].Name] = in
	}
	return len(got) > 0
}
