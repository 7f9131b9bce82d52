package routersync_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

// TestMain removes the kanaria binary the tests build once: the router
// under test is the real command, run as a process (race-built when the
// test is, so a data race in a replica fails the test).
func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }

// routerProc is one running `kanaria router --kubernetes`.
type routerProc struct {
	id        string
	cmd       *exec.Cmd
	proxy     string
	admin     string
	tokenFile string
	stderr    *lockedBuffer
	exited    chan error
}

// token is the replica's admin bearer token.
func (p *routerProc) token(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

var readyLine = regexp.MustCompile(`^kanaria router: serving on (http://\S+) \(admin (http://\S+)\)`)

// startRouter starts replica id on ephemeral loopback ports and waits for
// its ready line, which it prints once its first table is in. The test's
// cleanup stops it with SIGTERM (SIGKILL if it does not exit). Its admin
// token is in a file of its own unless args name --admin-token-secret.
func (c *cluster) startRouter(t *testing.T, id string, args ...string) *routerProc {
	t.Helper()
	c.mu.Lock()
	c.n++
	token := filepath.Join(c.dir, fmt.Sprintf("token-%d", c.n))
	c.mu.Unlock()
	base := []string{"router", "--kubernetes",
		"--kubeconfig", c.kubeconfig,
		"--id", id,
		"--lease-namespace", systemNS,
		"--salt-secret", systemNS + "/kanaria-router-salt",
		"--listen", "127.0.0.1:0",
		"--admin", "127.0.0.1:0"}
	if slices.Contains(args, "--admin-token-secret") {
		token = ""
	} else {
		base = append(base, "--admin-token-file", token)
	}
	cmd := exec.Command(c.bin, append(base, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &routerProc{id: id, cmd: cmd, tokenFile: token, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
	}()
	go func() { p.exited <- cmd.Wait() }()
	c.top.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if p.waitFor(30*time.Second) != nil {
			cmd.Process.Kill()
		}
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			c.top.Errorf("replica %s: data race", id)
		}
		if c.top.Failed() {
			c.top.Logf("replica %s stderr:\n%s", id, p.stderr.String())
		}
	})
	select {
	case m := <-ready:
		p.proxy, p.admin = m[1], m[2]
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("replica %s exited before ready: %v\n%s", id, err, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s not ready in 60s\n%s", id, p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *routerProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.waitFor(60 * time.Second); err != nil {
		t.Fatalf("replica %s after SIGTERM: %v\n%s", p.id, err, p.stderr.String())
	}
}

// wait waits for the process to end, however it ends.
func (p *routerProc) wait(t *testing.T) {
	t.Helper()
	if exited, _ := p.result(30 * time.Second); !exited {
		t.Fatalf("replica %s still running", p.id)
	}
}

// waitFor returns the process's exit error, or an error saying it still runs.
func (p *routerProc) waitFor(d time.Duration) error {
	exited, err := p.result(d)
	if !exited {
		return fmt.Errorf("still running after %v", d)
	}
	return err
}

// result waits at most d for the process to end and returns how it ended.
func (p *routerProc) result(d time.Duration) (exited bool, err error) {
	select {
	case err := <-p.exited:
		p.exited <- err // later callers see the same result
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
