// Package netns is test support: it gives a test a Linux network namespace of its
// own, joined to the root namespace by a veth pair, so that servers playing
// Kubernetes pods can listen on non-loopback addresses (the API server refuses
// 127.0.0.0/8 in EndpointSlices) while the test, the router and the API server stay
// in the root namespace and reach them directly.
//
// Addressing: namespace number X (0–255) owns 198.18.X.0/24 (198.18.0.0/15 is
// reserved for benchmarking, RFC 2544, so nothing real lives there). The host end of
// the veth pair is 198.18.X.254; addresses inside the namespace are handed out from
// 198.18.X.1 up. X is claimed with a lock file under /run/kanaria/netns, so test
// binaries running in parallel (go test runs packages as separate processes) never
// share a subnet, and leftovers of a killed test are removed when its number is
// claimed again.
//
// Listeners are opened from the test process itself: a goroutine locks its OS
// thread, enters the namespace with setns(2), creates the socket and returns; the
// socket stays in the namespace it was created in, and the thread, never switched
// back, is thrown away by the runtime. This keeps the servers in-process (plain
// http.Handlers the test controls and inspects) instead of helper processes started
// with `ip netns exec` that would need their own binary, protocol and supervision.
//
// It needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2's `ip`. When either is
// missing New skips the test, except under CI (CI set), where it fails: the team
// rule is that nothing skips in CI.
package netns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// lockDir holds one lock file per claimed namespace number. It lives on /run
// (tmpfs) like /run/netns, so a reboot forgets both together.
const lockDir = "/run/kanaria/netns"

// Namespace is a network namespace created for one test, with a veth pair to the
// root namespace. It is deleted, with everything in it, when the test ends.
type Namespace struct {
	// Name is the namespace's name as `ip netns` knows it (kanaria<X>-<pid>).
	Name string
	// HostAddr is the root namespace's end of the veth pair, 198.18.X.254.
	HostAddr netip.Addr

	index   int    // X
	nsLink  string // the veth end inside the namespace
	mu      sync.Mutex
	next    int // last host number handed out by AddAddr
	lockFd  int
	deleted bool
}

// New creates a namespace for t with its veth pair up and loopback up inside it,
// and registers its removal with t.Cleanup. It has no addresses inside yet: call
// AddAddr for each server that plays a pod.
func New(t testing.TB) *Namespace {
	t.Helper()
	if reason := unavailable(); reason != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("network namespace needed under CI: %s", reason)
		}
		t.Skipf("skipping: network namespace unavailable: %s", reason)
	}
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatalf("netns: %v", err)
	}
	index, fd, err := claim()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	ns := &Namespace{
		Name:     fmt.Sprintf("kanaria%d-%d", index, os.Getpid()),
		HostAddr: netip.AddrFrom4([4]byte{198, 18, byte(index), 254}),
		index:    index,
		nsLink:   fmt.Sprintf("kanaria%dn", index),
		lockFd:   fd,
	}
	// Registered before anything is created so a half-built namespace is removed too.
	t.Cleanup(func() {
		if err := ns.delete(); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	removeStale(index)
	host := hostLink(index)
	steps := [][]string{
		{"netns", "add", ns.Name},
		{"link", "add", host, "type", "veth", "peer", "name", ns.nsLink, "netns", ns.Name},
		{"addr", "add", ns.HostAddr.String() + "/24", "dev", host},
		{"link", "set", host, "up"},
		{"-n", ns.Name, "link", "set", "lo", "up"},
		{"-n", ns.Name, "link", "set", ns.nsLink, "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			t.Fatalf("netns: %v", err)
		}
	}
	return ns
}

// AddAddr assigns the next free address of the namespace's subnet (198.18.X.1,
// .2, …) to its end of the veth pair and returns it: one per pod the test plays.
func (ns *Namespace) AddAddr(t testing.TB) netip.Addr {
	t.Helper()
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.next >= 253 {
		t.Fatalf("netns %s: all 253 addresses are in use", ns.Name)
	}
	ns.next++
	addr := netip.AddrFrom4([4]byte{198, 18, byte(ns.index), byte(ns.next)})
	if err := ip("-n", ns.Name, "addr", "add", addr.String()+"/24", "dev", ns.nsLink); err != nil {
		t.Fatalf("netns: %v", err)
	}
	return addr
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn creates
// belong to the namespace for their whole life, whichever thread later uses them.
// fn must not start goroutines that expect to be in the namespace: only fn's own
// thread is.
func (ns *Namespace) Do(fn func() error) error {
	target, err := os.Open(filepath.Join("/run/netns", ns.Name))
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns.Name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns the runtime ends the thread,
		// so no other goroutine ever runs in the namespace by accident. (Threads the
		// runtime starts meanwhile come from its clean template thread, not this one.)
		runtime.LockOSThread()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns %s: setns: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Listen opens a TCP listener inside the namespace on addr (one AddAddr returned;
// port 0 picks a free one), closed when the test ends. From the root namespace it
// is reached at the listener's Addr through the veth pair.
func (ns *Namespace) Listen(t testing.TB, addr netip.AddrPort) net.Listener {
	t.Helper()
	var ln net.Listener
	err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("netns %s: listen on %s: %v", ns.Name, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// delete removes the veth pair and the namespace and releases its number. Safe
// to call twice. The host end goes first: deleting it removes both ends at once,
// whereas deleting the namespace removes its devices later, in the kernel's own
// time, and the number must not be claimed again while the old link lingers.
func (ns *Namespace) delete() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.deleted {
		return nil
	}
	ns.deleted = true
	defer unix.Close(ns.lockFd)
	var errs []error
	if linkExists(hostLink(ns.index)) {
		errs = append(errs, ip("link", "delete", hostLink(ns.index)))
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns.Name)); err == nil {
		errs = append(errs, ip("netns", "delete", ns.Name))
	}
	return errors.Join(errs...)
}

// hostLink names the root namespace's end of namespace X's veth pair (interface
// names are limited to 15 bytes).
func hostLink(index int) string { return fmt.Sprintf("kanaria%dh", index) }

// unavailable says why namespaces cannot be made here, or "" if they can.
func unavailable() string {
	if runtime.GOOS != "linux" {
		return "network namespaces are Linux only"
	}
	if os.Geteuid() != 0 {
		return "not root (ip netns and setns need CAP_SYS_ADMIN)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no `ip` command (apt-get install -y iproute2)"
	}
	return ""
}

// claim takes the lock of a free namespace number, starting at a random one so
// that parallel test binaries rarely contend, and returns the number and the
// locked file's descriptor. The lock is released by closing the descriptor, or by
// the kernel when the process dies.
func claim() (int, int, error) {
	start := rand.IntN(256)
	for i := range 256 {
		index := (start + i) % 256
		path := filepath.Join(lockDir, fmt.Sprintf("%d.lock", index))
		fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return 0, 0, err
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return 0, 0, err
		}
		return index, fd, nil
	}
	return 0, 0, errors.New("all 256 namespace numbers are in use")
}

// removeStale deletes what a killed test left behind under number index: its
// namespace(s) and host link. Only called with index's lock held, so nothing under
// that number belongs to a live test.
func removeStale(index int) {
	if linkExists(hostLink(index)) {
		_ = ip("link", "delete", hostLink(index))
	}
	prefix := fmt.Sprintf("kanaria%d-", index)
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			_ = ip("netns", "delete", e.Name())
		}
	}
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// ip runs iproute2's ip with args; the error carries its output.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
