package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/internal/wire"
)

// StartOptions say how Ensure starts a data plane when none runs.
type StartOptions struct {
	// KanariaPath is the kanaria binary to run as `kanaria dataplane`.
	// Default: this executable.
	KanariaPath string
	// Listen is the router's address, default DefaultListen. A running
	// data plane on another address is an error unless Listen's port is 0
	// ("any").
	Listen string
	// LogFile receives the data plane's output. Default:
	// STATE_DIR/logs/dataplane.log.
	LogFile string
}

// DefaultListen is the router's address when StartOptions.Listen is empty,
// the same as kanaria up's default.
const DefaultListen = "127.0.0.1:8080"

// startWait bounds how long Ensure waits for a spawned data plane to answer.
const startWait = 15 * time.Second

// Ensure returns a client of the data plane of stateDir, starting one when
// none runs. The data plane is started detached (its own session, no
// parent-death signal), so it outlives the caller: that is the point.
func Ensure(ctx context.Context, stateDir string, o StartOptions) (*Client, error) {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	c, err := ensure(ctx, stateDir, o)
	if err != nil {
		return nil, err
	}
	c.start = &o
	return c, nil
}

// ensure is Ensure without remembering how.
func ensure(ctx context.Context, stateDir string, o StartOptions) (*Client, error) {
	c, err := Connect(stateDir)
	if err == nil {
		return reuse(c, o.Listen)
	}
	if !errors.Is(err, ErrNotRunning) {
		return nil, err
	}
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if o.KanariaPath == "" {
		if o.KanariaPath, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if o.LogFile == "" {
		o.LogFile = filepath.Join(dir, wire.LogDir, wire.DataPlaneLog)
	}
	if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.KanariaPath, "dataplane", "--state-dir", dir, "--listen", o.Listen)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start data plane: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it, however long it lives
	return waitReady(ctx, dir, o, exited)
}

// waitReady polls the socket until the new data plane answers, it exits,
// or startWait passes. A data plane that exits may have lost a race with
// another Ensure: then the winner answers and is used.
func waitReady(ctx context.Context, dir string, o StartOptions, exited <-chan error) (*Client, error) {
	deadline := time.Now().Add(startWait)
	var exitErr error
	dead := false
	for i := 0; ; i++ {
		c, err := Connect(dir)
		if err == nil {
			return reuse(c, o.Listen)
		}
		if dead || time.Now().After(deadline) || i > int(startWait/(20*time.Millisecond)) {
			why := "did not answer within " + startWait.String()
			if dead {
				why = fmt.Sprintf("exited (%v)", exitErr)
			}
			return nil, fmt.Errorf("data plane %s (last try: %v); its log %s ends with:\n%s", why, err, o.LogFile, tailOf(o.LogFile))
		}
		select {
		case exitErr = <-exited:
			dead = true // one more Connect: another data plane may serve
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// reuse returns c unless its data plane's router serves elsewhere than
// listen asks (sameListen).
func reuse(c *Client, listen string) (*Client, error) {
	if err := sameListen(c.RouterURL(), listen); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sameListen refuses to reuse a data plane whose router serves elsewhere
// than asked: the user would send traffic to a port nothing listens on.
func sameListen(routerURL, listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || listen == "" {
		return nil
	}
	u, err := url.Parse(routerURL)
	if err != nil {
		return nil
	}
	if u.Port() == port && (host == "" || host == u.Hostname() || isWildcard(host)) {
		return nil
	}
	return fmt.Errorf("a data plane already serves on %s; stop it with kanaria down or use --listen %s", u.Host, u.Host)
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// tailOf returns the last lines of a log file, for start-up errors.
func tailOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
