package cli

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

// TestRouterCommand runs the real kanaria binary as `kanaria router`
// processes in front of real loopback upstreams.
func TestRouterCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kanaria binary")
	}
	dir := t.TempDir()
	bin := binary.Kanaria(t)
	slowArrived := make(chan struct{}, 1)
	upstream := func(rev string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				slowArrived <- struct{}{}
				time.Sleep(400 * time.Millisecond)
			}
			io.WriteString(w, rev)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	stable, canary := upstream("v1"), upstream("v2")
	routes := func(weight string) string {
		return fmt.Sprintf(`key:
  header: X-User-Id
  salt: e2e-salt
routes:
  - release: shop
releases:
  - name: shop
    stable:
      revision: v1
      endpoints: [%q]
    canary:
      revision: v2
      endpoints: [%q]
    canaryWeight: %s
`, stable, canary, weight)
	}
	e := &routerE2E{t: t, bin: bin, dir: dir}

	t.Run("two processes assign every key the same way", func(t *testing.T) {
		file := e.write("same.yaml", routes("10"))
		a, b := e.start(t, file), e.start(t, file)
		const keys = 2000
		var revA, revB []string
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); revA = e.revisions(t, a.proxy, keys, "user-") }()
		go func() { defer wg.Done(); revB = e.revisions(t, b.proxy, keys, "user-") }()
		wg.Wait()
		if t.Failed() {
			return
		}
		nCanary := 0
		for i := range keys {
			key := fmt.Sprintf("user-%d", i)
			if revA[i] != revB[i] {
				t.Fatalf("%s: process A served %q, process B served %q", key, revA[i], revB[i])
			}
			if want := router.Bucket("e2e-salt", key) < 100_000; (revA[i] == "v2") != want {
				t.Fatalf("%s: served %q but its bucket says canary=%v", key, revA[i], want)
			}
			if revA[i] == "v2" {
				nCanary++
			}
		}
		// Binomial(2000, 0.1): mean 200, sd 13.4; 5 sd either side.
		sd := math.Sqrt(keys * 0.1 * 0.9)
		if lo, hi := 200-5*sd, 200+5*sd; float64(nCanary) < lo || float64(nCanary) > hi {
			t.Fatalf("canary share %d of %d outside [%.0f, %.0f]", nCanary, keys, lo, hi)
		}
	})

	t.Run("SIGHUP reloads, and a bad file keeps the old table", func(t *testing.T) {
		file := e.write("hup.yaml", routes("0"))
		p := e.start(t, file)
		if got := e.revisions(t, p.proxy, 100, "hup-"); countOf(got, "v2") != 0 {
			t.Fatalf("canary served at weight 0: %v", got)
		}
		e.write("hup.yaml", routes("100"))
		p.cmd.Process.Signal(syscall.SIGHUP)
		e.waitWeights(t, p, 1_000_000)
		if got := e.revisions(t, p.proxy, 100, "hup-"); countOf(got, "v2") != 100 {
			t.Fatalf("after reload to 100%%, %d of 100 keys on canary", countOf(got, "v2"))
		}

		e.write("hup.yaml", routes("101"))
		p.cmd.Process.Signal(syscall.SIGHUP)
		want := regexp.MustCompile(`hup\.yaml:\d+:\d+: releases\[0\]\.canaryWeight: 101 is above 100%`)
		e.waitFor(t, func() bool { return want.MatchString(p.stderr.String()) }, "reload error with file:line and field path in stderr:\n"+p.stderr.String())
		if !strings.Contains(p.stderr.String(), "reload refused") {
			t.Fatalf("stderr does not say the reload was refused:\n%s", p.stderr.String())
		}
		e.waitWeights(t, p, 1_000_000)
		if got := e.revisions(t, p.proxy, 100, "hup-"); countOf(got, "v2") != 100 {
			t.Fatalf("after a refused reload, %d of 100 keys on canary", countOf(got, "v2"))
		}
	})

	t.Run("SIGHUP reloads the TLS certificate, keeping HTTP/1.1 and HTTP/2 connections", func(t *testing.T) {
		certDir := t.TempDir()
		certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
		firstPool := writeTestCert(t, certFile, keyFile, "first")
		file := e.write("tls.yaml", routes("0")+fmt.Sprintf("tls: {certFile: %q, keyFile: %q}\n", certFile, keyFile))
		p := e.start(t, file)
		if !strings.HasPrefix(p.proxy, "https://") {
			t.Fatalf("ready line says %s, want https", p.proxy)
		}
		clientFor := func(pool *x509.CertPool, h2 bool) *http.Client {
			tc := &tls.Config{RootCAs: pool}
			if !h2 {
				tc.NextProtos = []string{"http/1.1"}
			}
			return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: h2}}
		}
		clients := map[string]*http.Client{"HTTP/1.1": clientFor(firstPool, false), "HTTP/2.0": clientFor(firstPool, true)}
		check := func(when string) {
			for proto, c := range clients {
				resp, err := c.Get(p.proxy + "/")
				if err != nil {
					t.Fatalf("%s %s: %v", proto, when, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.Proto != proto || string(b) != "v1" {
					t.Errorf("%s %s: %s %q", proto, when, resp.Proto, b)
				}
			}
		}
		check("before the reload")

		secondPool := writeTestCert(t, certFile, keyFile, "second")
		p.cmd.Process.Signal(syscall.SIGHUP)
		e.waitFor(t, func() bool { return strings.Contains(p.stderr.String(), "reloaded") }, "reload in stderr:\n"+p.stderr.String())
		c, err := tls.Dial("tcp", strings.TrimPrefix(p.proxy, "https://"), &tls.Config{RootCAs: secondPool})
		if err != nil {
			t.Fatalf("a new handshake after the reload: %v", err)
		}
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
			t.Errorf("new handshake got certificate %q, want second", cn)
		}
		c.Close()
		// These clients trust only the first certificate: they succeed only on
		// the connections they made before the reload.
		check("on connections made before the reload")
	})

	t.Run("admin token file is created 0600 and required", func(t *testing.T) {
		p := e.start(t, e.write("tok.yaml", routes("5")))
		st, err := os.Stat(p.tokenFile)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v %v", st, err)
		}
		for _, tok := range []string{"", "wrong"} {
			req, _ := http.NewRequest("PUT", p.admin+"/v1/releases/shop/weights", strings.NewReader(`{"canaryWeight":50}`))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("token %q: %d, want 401", tok, resp.StatusCode)
			}
		}
		e.waitWeights(t, p, 50_000)
		e.revisions(t, p.proxy, 20, "m-")
		resp, err := http.Get(p.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`kanaria_router_requests_total\{[^}]*release="shop"`).Match(body) {
			t.Fatalf("/metrics lacks router counters:\n%.2000s", body)
		}
	})

	t.Run("bad routes files are refused with file:line and field path", func(t *testing.T) {
		cases := map[string]string{
			"weight.yaml":  `weight\.yaml:14:19: releases\[0\]\.canaryWeight: 101 is above 100%`,
			"unknown.yaml": `unknown\.yaml:14:5: releases\[0\]\.canaryWieght: unknown field "canaryWieght"`,
			"syntax.yaml":  `syntax\.yaml:\d+:\d+: `,
		}
		e.write("weight.yaml", routes("101"))
		e.write("unknown.yaml", strings.Replace(routes("1"), "canaryWeight", "canaryWieght", 1))
		e.write("syntax.yaml", routes("1")+"routes: [\n")
		for name, want := range cases {
			out, err := exec.Command(bin, "router", "-f", filepath.Join(dir, name), "--listen", "127.0.0.1:0").CombinedOutput()
			if err == nil {
				t.Fatalf("%s accepted:\n%s", name, out)
			}
			if !regexp.MustCompile(want).Match(out) {
				t.Fatalf("%s: output %q does not match %q", name, out, want)
			}
		}
	})

	t.Run("non-loopback admin address is refused", func(t *testing.T) {
		file := e.write("remote.yaml", routes("1"))
		out, err := exec.Command(bin, "router", "-f", file, "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not loopback") {
			t.Fatalf("err %v, output %s", err, out)
		}
	})

	t.Run("SIGTERM drains an in-flight request and exits 0", func(t *testing.T) {
		p := e.start(t, e.write("drain.yaml", routes("0")))
		type result struct {
			code int
			body string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := http.Get(p.proxy + "/slow")
			if err != nil {
				done <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- result{code: resp.StatusCode, body: string(b)}
		}()
		select {
		case <-slowArrived:
		case <-time.After(10 * time.Second):
			t.Fatal("slow request never reached the upstream")
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		r := <-done
		if r.err != nil || r.code != 200 || r.body != "v1" {
			t.Fatalf("in-flight request during drain: %+v", r)
		}
		if err := p.wait(10 * time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	})
}

// routerE2E holds what the subtests share: the binary and a scratch folder.
type routerE2E struct {
	t   *testing.T
	bin string
	dir string
	mu  sync.Mutex
	n   int
}

// routerProc is one running `kanaria router`.
type routerProc struct {
	cmd       *exec.Cmd
	proxy     string
	admin     string
	tokenFile string
	stderr    *lockedBuffer
	exited    chan error
}

func (e *routerE2E) write(name, content string) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p+".tmp", []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil { // atomic: a reload never sees half a file
		e.t.Fatal(err)
	}
	return p
}

var readyLine = regexp.MustCompile(`^kanaria router: serving on (https?://\S+) \(admin (http://\S+)\)$`)

// start runs a router on ephemeral loopback ports and waits for its ready
// line; cleanup stops it with SIGTERM (SIGKILL if it does not exit).
func (e *routerE2E) start(t *testing.T, file string) *routerProc {
	t.Helper()
	e.mu.Lock()
	e.n++
	tokenFile := filepath.Join(e.dir, fmt.Sprintf("token-%d", e.n))
	e.mu.Unlock()
	cmd := exec.Command(e.bin, "router", "-f", file, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token-file", tokenFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &routerProc{cmd: cmd, tokenFile: tokenFile, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
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
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if p.wait(10*time.Second) != nil {
			cmd.Process.Kill()
		}
	})
	select {
	case m := <-ready:
		p.proxy, p.admin = m[1], m[2]
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("router exited before ready: %v\n%s", err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("router not ready in 20s\n%s", p.stderr.String())
	}
	return p
}

// wait returns the process's exit error, or a timeout error.
func (p *routerProc) wait(d time.Duration) error {
	select {
	case err := <-p.exited:
		p.exited <- err // later callers see the same result
		return err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

// revisions sends one request per key (prefix + index) and returns the
// X-Kanaria-Version each was served by.
func (e *routerE2E) revisions(t *testing.T, base string, n int, prefix string) []string {
	client := &http.Client{Timeout: 5 * time.Second}
	out := make([]string, n)
	deadline := time.Now().Add(60 * time.Second)
	for i := range n {
		if time.Now().After(deadline) {
			t.Errorf("only %d of %d requests in 60s", i, n)
			return out
		}
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-User-Id", fmt.Sprintf("%s%d", prefix, i))
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("request %d: %v", i, err)
			return out
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("request %d: status %d", i, resp.StatusCode)
			return out
		}
		out[i] = resp.Header.Get("X-Kanaria-Version")
	}
	return out
}

// waitWeights polls the admin API until the canary weight is want ppm.
func (e *routerE2E) waitWeights(t *testing.T, p *routerProc, want uint32) {
	t.Helper()
	tok, err := os.ReadFile(p.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ CanaryPPM uint32 }
	e.waitFor(t, func() bool {
		req, _ := http.NewRequest("GET", p.admin+"/v1/releases/shop/weights", nil)
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&got) == nil && got.CanaryPPM == want
	}, fmt.Sprintf("canaryPPM %d (last %d)", want, got.CanaryPPM))
}

// waitFor polls cond every 25 ms for at most 10 s.
func (e *routerE2E) waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func countOf(vals []string, v string) int {
	n := 0
	for _, x := range vals {
		if x == v {
			n++
		}
	}
	return n
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

// writeTestCert writes a self-signed P-256 certificate for 127.0.0.1 named
// cn and returns a pool that trusts it.
func writeTestCert(t *testing.T, certFile, keyFile, cn string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
