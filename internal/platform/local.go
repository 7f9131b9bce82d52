package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

// LocalOptions configure a Local platform.
type LocalOptions struct {
	// LogDir holds the instances' output, one file per instance:
	// LogDir/<rollout>/<versionkey>-<instance>.log, appended across restarts.
	// Default: <os.TempDir()>/kanaria-logs.
	LogDir string
	// KanariaPath is the {{.Kanaria}} of the command template. Default:
	// os.Executable().
	KanariaPath string
	// Logger receives readiness, crashes, restarts and failures; nil
	// discards.
	Logger *slog.Logger
}

// Local runs the revisions of one rollout as supervised processes on this
// machine. One Local serves one rollout (the control plane makes one per
// rollout), so Ensure refuses instances of another rollout.
//
// Each version (a revision, or its baseline copy) runs spec.Instances
// processes, instance numbers 0..Instances-1, each on its own free
// 127.0.0.1 port that stays the same across restarts.
type Local struct {
	rollout string
	spec    v1alpha1.LocalPlatform // defaults applied
	opts    LocalOptions
	tune    supervision

	mu       sync.Mutex
	versions map[string]*version // by engine.VersionKey
	closed   bool
}

// version is the set of instances of one revision (or its baseline copy).
type version struct {
	in    Instance
	procs []*proc
}

// NewLocal returns a platform that runs rollout's revisions as the spec
// says. Zero values in the spec get kanaria's defaults.
func NewLocal(rollout string, sp v1alpha1.LocalPlatform, opts LocalOptions) *Local {
	if sp.Instances <= 0 {
		sp.Instances = v1alpha1.DefaultInstances
	}
	if sp.Readiness.Path == "" {
		sp.Readiness.Path = v1alpha1.DefaultReadinessPath
	}
	if !strings.HasPrefix(sp.Readiness.Path, "/") {
		sp.Readiness.Path = "/" + sp.Readiness.Path
	}
	if sp.Readiness.Interval <= 0 {
		sp.Readiness.Interval = v1alpha1.Duration(v1alpha1.DefaultReadinessInterval)
	}
	if sp.Readiness.Timeout <= 0 {
		sp.Readiness.Timeout = v1alpha1.Duration(v1alpha1.DefaultReadinessTimeout)
	}
	if sp.GracePeriod <= 0 {
		sp.GracePeriod = v1alpha1.Duration(v1alpha1.DefaultGracePeriod)
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(os.TempDir(), "kanaria-logs")
	}
	if opts.KanariaPath == "" {
		if exe, err := os.Executable(); err == nil {
			opts.KanariaPath = exe
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Local{rollout: rollout, spec: sp, opts: opts, tune: defaultSupervision, versions: map[string]*version{}}
}

// Capabilities: local processes really start and stop, keep logs, and a
// baseline copy is just another set of processes.
func (l *Local) Capabilities() []Capability {
	return []Capability{CanStart, CanStop, HasLogs, HasBaseline}
}

// Ensure starts the instances of in unless they already run, and returns
// without waiting for readiness (State reports it). It is idempotent: an
// instance that failed stays failed until Stop, so a failed canary is not
// silently retried. Errors are reported before anything starts: a command
// template that does not render, a command that cannot be split or found.
func (l *Local) Ensure(ctx context.Context, in Instance) error {
	if in.Rollout != l.rollout {
		return fmt.Errorf("local platform of rollout %s cannot run rollout %s", l.rollout, in.Rollout)
	}
	key := engine.VersionKey(in.Revision, in.Baseline)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("local platform is closed")
	}
	if _, ok := l.versions[key]; ok {
		return nil
	}
	if err := os.MkdirAll(l.logDir(), 0o755); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	v := &version{in: in}
	for i := range l.spec.Instances {
		p, err := l.newProc(in, key, i)
		if err != nil {
			for _, q := range v.procs {
				releasePort(q.port)
			}
			return fmt.Errorf("rollout %s: %s instance %d: %w", l.rollout, key, i, err)
		}
		v.procs = append(v.procs, p)
	}
	for _, p := range v.procs {
		go p.supervise()
	}
	l.versions[key] = v
	return nil
}

// newProc prepares (but does not start) instance i of a version.
func (l *Local) newProc(in Instance, key string, i int) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	line, err := l.spec.RenderCommand(v1alpha1.CommandData{
		Revision: in.Revision, Port: port, Name: l.rollout, Instance: i, Kanaria: l.opts.KanariaPath,
	})
	if err == nil {
		var args []string
		if args, err = splitArgs(line); err == nil {
			err = checkExecutable(args[0], l.spec.Dir)
			if err == nil {
				return &proc{
					l: l, key: key, index: i, port: port, args: args,
					env:     l.env(in, port),
					logPath: l.logPath(key, i),
					stop:    make(chan struct{}),
					hurry:   make(chan struct{}),
					done:    make(chan struct{}),
				}, nil
			}
		}
	}
	releasePort(port)
	return nil, fmt.Errorf("command: %w", err)
}

// checkExecutable finds the program now, so a typo is reported by Ensure
// rather than as a crash of the instance.
func checkExecutable(name, dir string) error {
	if !strings.Contains(name, "/") {
		_, err := exec.LookPath(name)
		return err
	}
	if !filepath.IsAbs(name) && dir != "" {
		name = filepath.Join(dir, name)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", name)
	}
	return nil
}

// env is the instance's environment: kanaria's own (PATH, HOME, ...), then
// the spec's env in a stable order, then PORT and KANARIA_REVISION, which
// win because the instance must listen where the router will send traffic.
func (l *Local) env(in Instance, port int) []string {
	env := os.Environ()
	keys := make([]string, 0, len(l.spec.Env))
	for k := range l.spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+l.spec.Env[k])
	}
	return append(env, fmt.Sprintf("PORT=%d", port), "KANARIA_REVISION="+in.Revision)
}

// Stop stops the instances of in: SIGTERM to each process group, SIGKILL
// after the grace period, or at once when ctx ends first. It returns when
// the processes have exited. Stopping an unknown instance is not an error.
func (l *Local) Stop(ctx context.Context, in Instance) error {
	key := engine.VersionKey(in.Revision, in.Baseline)
	l.mu.Lock()
	v, ok := l.versions[key]
	delete(l.versions, key)
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return stopAll(ctx, v.procs)
}

// Close stops every instance this platform started and refuses new ones.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	var all []*proc
	for key, v := range l.versions {
		all = append(all, v.procs...)
		delete(l.versions, key)
	}
	l.mu.Unlock()
	return stopAll(ctx, all)
}

// stopAll stops processes in parallel, so the grace periods overlap.
func stopAll(ctx context.Context, procs []*proc) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stopAndWait(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// State reports a version: Endpoints lists its ready instances only; Ready
// means every instance is ready; Failed means one of them failed (a
// crashing canary is a failed canary), with that instance's Reason;
// Restarts sums all instances' restarts, LastExit says how a restarted
// one's last run ended.
func (l *Local) State(in Instance) (State, bool) {
	l.mu.Lock()
	v, ok := l.versions[engine.VersionKey(in.Revision, in.Baseline)]
	l.mu.Unlock()
	if !ok {
		return State{}, false
	}
	st := State{Ready: true}
	for _, p := range v.procs {
		s := p.snapshot()
		if s.ready {
			st.Endpoints = append(st.Endpoints, fmt.Sprintf("http://127.0.0.1:%d", p.port))
		} else {
			st.Ready = false
		}
		if s.failed && !st.Failed {
			st.Failed = true
			st.Reason = fmt.Sprintf("instance %d: %s", p.index, s.reason)
		}
		st.Restarts += s.restarts
		if s.lastExit != "" {
			st.LastExit = fmt.Sprintf("instance %d: %s", p.index, s.lastExit)
		}
	}
	if st.Failed {
		st.Ready = false
	}
	return st, true
}

// pids returns the process ids of a version's running instances (0 while
// one is between restarts); for tests.
func (l *Local) pids(in Instance) []int {
	l.mu.Lock()
	v, ok := l.versions[engine.VersionKey(in.Revision, in.Baseline)]
	l.mu.Unlock()
	if !ok {
		return nil
	}
	var out []int
	for _, p := range v.procs {
		out = append(out, p.snapshot().pid)
	}
	return out
}

// logDir is where this rollout's log files go.
func (l *Local) logDir() string {
	return filepath.Join(l.opts.LogDir, safeName(l.rollout))
}

// logPath is the log file of one instance of a version.
func (l *Local) logPath(key string, i int) string {
	return filepath.Join(l.logDir(), fmt.Sprintf("%s-%d.log", safeName(key), i))
}

// safeName keeps a rollout or revision name usable as one file name: a
// revision such as "registry/app:v2" must not create directories.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "_" + string(b)
	}
	return string(b)
}

// gracePeriod is the spec's SIGTERM-to-SIGKILL delay.
func (l *Local) gracePeriod() time.Duration { return l.spec.GracePeriod.D() }
