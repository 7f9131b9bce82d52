package netns

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// serve answers every request on ln with body and the caller's address, as a pod
// would see it.
func serve(t *testing.T, ln net.Listener, body string) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body+" "+r.RemoteAddr)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// A server listening inside the namespace answers from the root namespace, sees
// the host end of the veth as its caller, and its address exists only inside.
func TestListenInsideAnswersFromRoot(t *testing.T) {
	ns := New(t)
	a := ns.AddAddr(t)
	if a.As4()[3] != 1 || a.As4()[2] != byte(ns.index) {
		t.Fatalf("first address = %s, want 198.18.%d.1", a, ns.index)
	}
	ln := ns.Listen(t, netip.AddrPortFrom(a, 8080))
	serve(t, ln, "pod")

	got := get(t, "http://"+ln.Addr().String()+"/")
	host, _, err := net.SplitHostPort(got[len("pod "):])
	if err != nil || host != ns.HostAddr.String() {
		t.Fatalf("answer %q: want the caller to be %s", got, ns.HostAddr)
	}

	// The root namespace does not have the address: binding it here must fail,
	// which is what shows the listener above lives inside the namespace.
	if l, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String()); err == nil {
		l.Close()
		t.Fatalf("%s can be bound in the root namespace too", a)
	}
}

// Two namespaces in one test get distinct subnets, each reachable, each with its
// own addresses.
func TestTwoNamespaces(t *testing.T) {
	ns1, ns2 := New(t), New(t)
	if ns1.index == ns2.index || ns1.Name == ns2.Name {
		t.Fatalf("both namespaces got number %d (%s, %s)", ns1.index, ns1.Name, ns2.Name)
	}
	a1, a2 := ns1.AddAddr(t), ns2.AddAddr(t)
	b1 := ns1.AddAddr(t)
	if b1.As4()[3] != 2 {
		t.Fatalf("second address of %s = %s, want .2", ns1.Name, b1)
	}
	for i, c := range []struct {
		ns   *Namespace
		addr netip.Addr
	}{{ns1, a1}, {ns2, a2}, {ns1, b1}} {
		ln := c.ns.Listen(t, netip.AddrPortFrom(c.addr, 0))
		body := []string{"one", "two", "three"}[i]
		serve(t, ln, body)
		if got := get(t, "http://"+ln.Addr().String()+"/"); got[:len(body)] != body {
			t.Errorf("%s answered %q, want %q", ln.Addr(), got, body)
		}
	}
}

// When the test that made it ends, the namespace and both veth ends are gone and
// its number can be claimed again.
func TestCleanupRemovesEverything(t *testing.T) {
	var name string
	var index int
	t.Run("make", func(t *testing.T) {
		ns := New(t)
		ns.AddAddr(t)
		name, index = ns.Name, ns.index
		if !linkExists(hostLink(index)) {
			t.Fatalf("host link %s missing while the namespace exists", hostLink(index))
		}
	})
	if name == "" {
		t.Skip("no namespace was made")
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists after its test (stat: %v)", name, err)
	}
	if linkExists(hostLink(index)) {
		t.Errorf("host link %s still exists after its test", hostLink(index))
	}
	fd, err := unix.Open(filepath.Join(lockDir, fmt.Sprintf("%d.lock", index)), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("number %d is still locked after its test: %v", index, err)
	}
}

// What a killed test left under a number (its namespace, its host link) is
// removed by the next test that claims the number.
func TestStaleLeftoversRemoved(t *testing.T) {
	if reason := unavailable(); reason != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	index, fd, err := claim()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	stale := fmt.Sprintf("kanaria%d-1", index)
	for _, args := range [][]string{
		{"netns", "add", stale},
		{"link", "add", hostLink(index), "type", "veth", "peer", "name", "kanariastale", "netns", stale},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	removeStale(index)
	if _, err := os.Stat(filepath.Join("/run/netns", stale)); !os.IsNotExist(err) {
		ip("netns", "delete", stale)
		t.Errorf("stale namespace %s not removed (stat: %v)", stale, err)
	}
	if linkExists(hostLink(index)) {
		ip("link", "delete", hostLink(index))
		t.Errorf("stale link %s not removed", hostLink(index))
	}
}
