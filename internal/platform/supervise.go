package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervision tunes restarts; a field of Local so tests can shorten it.
type supervision struct {
	// backoffMin doubles after each crash in the window, up to backoffMax.
	backoffMin, backoffMax time.Duration
	// crashLimit crashes within crashWindow make the instance Failed.
	crashLimit  int
	crashWindow time.Duration
	// maxStarts bounds restarts over the instance's whole life, so even a
	// process that crashes just slower than the window gives up eventually.
	maxStarts int
}

var defaultSupervision = supervision{
	backoffMin: 100 * time.Millisecond, backoffMax: 5 * time.Second,
	crashLimit: 3, crashWindow: time.Minute,
	maxStarts: 1000,
}

// proc is one supervised instance: the process and its restarts.
type proc struct {
	l       *Local
	key     string // engine.VersionKey
	index   int
	port    int
	args    []string
	env     []string
	logPath string

	stop     chan struct{} // closed by stopAndWait: terminate, do not restart
	stopOnce sync.Once
	hurry    chan struct{} // closed when the caller cannot wait for the grace period
	hurryOne sync.Once
	done     chan struct{} // closed when the supervisor has ended and the process is gone

	mu sync.Mutex
	st procState
}

// procState is what State reads; guarded by proc.mu.
type procState struct {
	pid       int
	ready     bool
	everReady bool
	failed    bool
	reason    string
	restarts  int
	lastExit  string // how the last crashed run ended
}

func (p *proc) snapshot() procState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *proc) update(f func(*procState)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}

// fail marks the instance Failed for good.
func (p *proc) fail(reason string) {
	p.update(func(s *procState) { s.failed, s.ready, s.reason = true, false, reason })
	p.l.opts.Logger.Warn("instance failed", "rollout", p.l.rollout, "version", p.key, "instance", p.index, "reason", reason)
}

// outcome is how one run of the process ended.
type outcome int

const (
	stopped outcome = iota // asked to stop
	crashed                // exited on its own; may be restarted
	failed                 // gave up (readiness timeout or could not start)
)

// supervise runs the process, restarting it with exponential backoff until
// it is stopped or fails.
//
// The goroutine holds its OS thread for its whole life and starts every run
// of the process from it: Pdeathsig is delivered when the *thread* that
// forked the child exits, not the process, so starting from an ordinary
// goroutine could kill the child whenever the Go runtime retires that
// thread. The goroutine returns only after the process is gone; it exits
// still locked, which makes the runtime discard the thread — harmless then.
func (p *proc) supervise() {
	runtime.LockOSThread()
	defer releasePort(p.port)
	defer close(p.done)
	tune := p.l.tune
	var crashes []time.Time
	for start := 0; start < tune.maxStarts; start++ {
		out, reason := p.runOnce()
		switch out {
		case stopped:
			return
		case failed:
			p.fail(reason)
			return
		}
		if !p.snapshot().everReady {
			p.fail("crashed before becoming ready: " + reason)
			return
		}
		now := time.Now()
		recent := crashes[:0]
		for _, t := range crashes {
			if now.Sub(t) < tune.crashWindow {
				recent = append(recent, t)
			}
		}
		crashes = append(recent, now)
		if len(crashes) >= tune.crashLimit {
			p.fail(fmt.Sprintf("crashed %d times within %s; last: %s", len(crashes), tune.crashWindow, reason))
			return
		}
		backoff := min(tune.backoffMin<<(len(crashes)-1), tune.backoffMax)
		p.l.opts.Logger.Warn("instance crashed; restarting", "rollout", p.l.rollout, "version", p.key, "instance", p.index,
			"reason", reason, "in", backoff)
		select {
		case <-p.stop:
			return
		case <-time.After(backoff):
		}
		p.update(func(s *procState) { s.restarts++; s.lastExit = reason })
	}
	p.fail(fmt.Sprintf("restarted %d times; giving up", tune.maxStarts))
}

// runOnce starts the process and waits until it exits, fails readiness, or
// is asked to stop. The process is gone when runOnce returns.
func (p *proc) runOnce() (outcome, string) {
	select {
	case <-p.stop: // stopped before (re)starting: start nothing
		return stopped, ""
	default:
	}
	logf, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return failed, fmt.Sprintf("open log: %v", err)
	}
	fmt.Fprintf(logf, "%s %s starting instance %d on port %d: %q\n",
		logMarker, time.Now().Format(time.RFC3339), p.index, p.port, p.args)
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Dir = p.l.spec.Dir
	// The child writes straight into the file (no copying goroutine), so
	// its output is kept even if kanaria dies first.
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so Stop reaches whatever the command forks;
	// SIGKILL when kanaria dies (see supervise about the thread).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	logf.Close() // the child has its own descriptor
	if err != nil {
		return failed, fmt.Sprintf("start: %v", err)
	}
	pid := cmd.Process.Pid
	p.update(func(s *procState) { s.pid = pid })
	defer p.update(func(s *procState) { s.pid, s.ready = 0, false })

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	probeDone := make(chan struct{})
	defer close(probeDone)
	ready := make(chan error, 1)
	go func() { ready <- p.probe(probeDone) }()

	// At most three events: ready, then exit or stop.
	for range 3 {
		select {
		case err := <-exited:
			killGroup(pid) // leftovers of a crashed leader would hold the port
			return crashed, p.describeExit(err)
		case <-p.stop:
			p.terminate(pid, exited)
			return stopped, ""
		case err := <-ready:
			if err != nil {
				// Failed before it is reported, so no one routes to it
				// during the grace period.
				p.update(func(s *procState) { s.failed, s.reason = true, err.Error() })
				p.terminate(pid, exited)
				return failed, err.Error()
			}
			p.update(func(s *procState) { s.ready, s.everReady = true, true })
			p.l.opts.Logger.Info("instance ready", "rollout", p.l.rollout, "version", p.key, "instance", p.index, "port", p.port)
			ready = nil // a nil channel is never selected again
		}
	}
	// Unreachable: the loop returns on exit or stop, and ready fires once.
	p.terminate(pid, exited)
	return stopped, ""
}

// terminate sends SIGTERM to the process group, then SIGKILL after the
// grace period (or at once when hurried), and waits for the exit.
func (p *proc) terminate(pid int, exited <-chan error) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	grace := time.NewTimer(p.l.gracePeriod())
	defer grace.Stop()
	select {
	case <-exited:
		killGroup(pid)
		return
	case <-grace.C:
	case <-p.hurry:
	}
	killGroup(pid)
	<-exited // SIGKILL cannot be ignored
}

// killGroup SIGKILLs what is left of the process group led by pid.
// Called right after the leader exited: the group id cannot have been
// reused while the leader's exit is this recent.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// stopAndWait asks the supervisor to stop and waits until the process is
// gone; when ctx ends first the grace period is cut short (SIGKILL now).
func (p *proc) stopAndWait(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	p.hurryOne.Do(func() { close(p.hurry) })
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s instance %d (pid %d) did not exit after SIGKILL", p.key, p.index, p.snapshot().pid)
	}
}

// describeExit says how the process ended and what it said last.
func (p *proc) describeExit(err error) string {
	var msg string
	var ee *exec.ExitError
	switch {
	case err == nil:
		msg = "exited with status 0"
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			msg = "killed by signal " + ws.Signal().String()
		} else {
			msg = fmt.Sprintf("exited with status %d", ee.ExitCode())
		}
	default:
		msg = err.Error()
	}
	if line := lastRunLine(p.logPath); line != "" {
		msg += "; last log line: " + line
	}
	return msg
}

// logMarker starts the lines kanaria itself writes into an instance's log.
const logMarker = "--- kanaria"

// lastRunLine returns the last line the latest run wrote to its log, or ""
// if it wrote nothing after kanaria's start marker.
func lastRunLine(path string) string {
	lines, err := tailLines(path, 20)
	if err != nil {
		return ""
	}
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, logMarker) {
			return ""
		}
		if l != "" {
			if len(l) > 300 {
				l = l[:300] + "…"
			}
			return l
		}
	}
	return ""
}
