package dataplane

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
)

// stateTTL is how long a State answer is reused. The control plane asks
// for every copy on every tick (and again while building the routing
// table); 50 ms makes that one round trip per copy per tick at most,
// while a crash still shows within a tick.
const stateTTL = 50 * time.Millisecond

// stateTimeout bounds one State round trip: State has no context and no
// error, so it must never block a tick for long.
const stateTimeout = 2 * time.Second

// RemotePlatform is a rollout's platform as run by the data plane. It
// implements platform.Platform, plus Logs and Err.
type RemotePlatform struct {
	c       *Client
	rollout string
	caps    []platform.Capability

	mu      sync.Mutex
	cache   map[string]cachedState // by engine.VersionKey
	lastErr error
}

type cachedState struct {
	st  platform.State
	ok  bool
	at  time.Time
	has bool
}

// Platform defines (or redefines) rollout's platform in the data plane from
// its spec and returns a platform.Platform backed by it (a *RemotePlatform).
// Defining the same spec again is harmless: instances that already run
// keep running, which is what a restarted control plane relies on.
func (c *Client) Platform(rollout string, p v1alpha1.Platform) (platform.Platform, error) {
	var res DefineResponse
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := c.do(ctx, http.MethodPost, "/v1/platforms/"+url.PathEscape(rollout), p, &res); err != nil {
		return nil, err
	}
	return &RemotePlatform{c: c, rollout: rollout, caps: res.Capabilities, cache: map[string]cachedState{}}, nil
}

// RemovePlatform stops every instance of rollout and forgets its platform
// (for a rollout that left the spec).
func (c *Client) RemovePlatform(ctx context.Context, rollout string) error {
	ctx, cancel := withDefaultTimeout(ctx, stopTimeout)
	defer cancel()
	return c.do(ctx, http.MethodDelete, "/v1/platforms/"+url.PathEscape(rollout), nil, nil)
}

// Capabilities are those of the platform kind the data plane runs: local
// starts, stops, logs and runs baselines; static does none of these.
func (p *RemotePlatform) Capabilities() []platform.Capability { return p.caps }

// Ensure asks the data plane to run in (idempotent; no wait for readiness).
func (p *RemotePlatform) Ensure(ctx context.Context, in platform.Instance) error {
	defer p.forget(in)
	return p.c.do(ctx, http.MethodPost, p.path("/ensure"), in, nil)
}

// Stop asks the data plane to stop in, and returns once it has stopped
// (grace periods included: bounded by stopTimeout without a deadline).
func (p *RemotePlatform) Stop(ctx context.Context, in platform.Instance) error {
	defer p.forget(in)
	ctx, cancel := withDefaultTimeout(ctx, stopTimeout)
	defer cancel()
	return p.c.do(ctx, http.MethodPost, p.path("/stop"), in, nil)
}

// State reports in, reusing an answer younger than stateTTL. When the data
// plane cannot be asked, the last answer is returned (however old) and Err
// says why: a passing hiccup must neither empty the routing table nor fail
// a healthy canary. With no earlier answer, ok is false.
func (p *RemotePlatform) State(in platform.Instance) (platform.State, bool) {
	key := engine.VersionKey(in.Revision, in.Baseline)
	p.mu.Lock()
	c := p.cache[key]
	p.mu.Unlock()
	if c.has && time.Since(c.at) < stateTTL {
		return c.st, c.ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	var res StateResponse
	err := p.c.do(ctx, http.MethodGet, p.path("/state?"+instanceQuery(in)), nil, &res)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
	if err != nil {
		return c.st, c.ok
	}
	p.cache[key] = cachedState{st: res.State, ok: res.OK, at: time.Now(), has: true}
	return res.State, res.OK
}

// Err is the error of the last State call, nil when it reached the data
// plane. The control plane can show it: State itself has no error.
func (p *RemotePlatform) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Logs writes the last tail lines (all when tail <= 0) of in's log files.
func (p *RemotePlatform) Logs(in platform.Instance, tail int, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return p.c.do(ctx, http.MethodGet, p.path("/logs?"+instanceQuery(in)+"&tail="+strconv.Itoa(tail)), nil, w)
}

// Close only forgets cached answers. It does not stop the instances: they
// belong to the data plane, which outlives the control plane on purpose;
// Client.Shutdown or RemovePlatform stops them.
func (p *RemotePlatform) Close(context.Context) error {
	p.mu.Lock()
	p.cache = map[string]cachedState{}
	p.mu.Unlock()
	return nil
}

// forget drops in's cached state after a change, so the next State asks.
func (p *RemotePlatform) forget(in platform.Instance) {
	p.mu.Lock()
	delete(p.cache, engine.VersionKey(in.Revision, in.Baseline))
	p.mu.Unlock()
}

func (p *RemotePlatform) path(suffix string) string {
	return "/v1/platforms/" + url.PathEscape(p.rollout) + suffix
}

func instanceQuery(in platform.Instance) string {
	v := url.Values{"revision": {in.Revision}}
	if in.Baseline {
		v.Set("baseline", "true")
	}
	return v.Encode()
}
