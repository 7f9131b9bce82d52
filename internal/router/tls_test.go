package router

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// certFiles is a self-signed certificate for 127.0.0.1 in PEM files and
// a pool that trusts it.
type certFiles struct {
	certFile, keyFile string
	pool              *x509.CertPool
}

// writeSelfSigned writes a fresh certificate for 127.0.0.1 named cn into
// dir.
func writeSelfSigned(dir, cn string) (certFiles, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return certFiles{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return certFiles{}, err
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cf := certFiles{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	if err := os.WriteFile(cf.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return certFiles{}, err
	}
	if err := os.WriteFile(cf.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return certFiles{}, err
	}
	cert, _ := x509.ParseCertificate(der)
	cf.pool.AddCert(cert)
	return cf, nil
}

// The package's test certificate, made once; TestMain removes its folder.
var (
	testCertDir  string
	testCertOnce = sync.OnceValues(func() (certFiles, error) {
		dir, err := os.MkdirTemp("", "kanaria-router-test-cert-")
		if err != nil {
			return certFiles{}, err
		}
		testCertDir = dir
		return writeSelfSigned(dir, "kanaria test")
	})
)

// testCert is the certificate of every TLS front end in these tests.
func testCert(t testing.TB) certFiles {
	t.Helper()
	cf, err := testCertOnce()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// testCertPool trusts testCert (nil if it could not be made: testCert
// fails the test that needs it).
func testCertPool() *x509.CertPool {
	cf, _ := testCertOnce()
	return cf.pool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testCertDir != "" {
		os.RemoveAll(testCertDir)
	}
	os.Exit(code)
}

// Over TLS, on kanaria's own front end and on net/http: HTTP/2 for
// clients that offer it, HTTP/1.1 for those that ask for it or offer
// nothing, https in X-Forwarded-Proto and Secure on the sticky cookie
// either way.
func TestServeTLSNegotiatesProtocols(t *testing.T) {
	for _, server := range []string{HTTPServerFast, HTTPServerStdlib} {
		t.Run(server, func(t *testing.T) {
			up := upstream(t, "v1")
			cfg := twoVersions(up.URL, up.URL, 0)
			cfg.Key.Header = ""
			_, base := serveRouter(t, frontEnd{name: "tls", server: server, tls: true}, cfg)
			for _, tc := range []struct {
				name   string
				offer  []string
				proto  int
				chosen string
			}{{"h2", []string{"h2", "http/1.1"}, 2, "h2"}, {"http/1.1", []string{"http/1.1"}, 1, "http/1.1"}, {"no ALPN", nil, 1, ""}} {
				var state tls.ConnectionState
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testCertPool(), NextProtos: tc.offer}, ForceAttemptHTTP2: tc.proto == 2}
				tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&tls.Dialer{Config: tr.TLSClientConfig}).DialContext(ctx, network, addr)
					if err == nil {
						state = c.(*tls.Conn).ConnectionState()
					}
					return c, err
				}
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				resp, err := c.Get(base + "/")
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				tr.CloseIdleConnections()
				if resp.ProtoMajor != tc.proto || resp.StatusCode != 200 || state.NegotiatedProtocol != tc.chosen {
					t.Errorf("%s: %s %d, ALPN chose %q", tc.name, resp.Proto, resp.StatusCode, state.NegotiatedProtocol)
				}
				if resp.Header.Get("X-Seen-XFP") != "https" || resp.Header.Get(DefaultVersionHeader) != "v1" {
					t.Errorf("%s: X-Forwarded-Proto %q, stamp %q", tc.name, resp.Header.Get("X-Seen-XFP"), resp.Header.Get(DefaultVersionHeader))
				}
				if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "; Secure") {
					t.Errorf("%s: sticky cookie without Secure: %q", tc.name, sc)
				}
			}
		})
	}
}

// A plain-HTTP client on the TLS listener gets no answer in clear text:
// the handshake fails and the connection is closed.
func TestTLSListenerRefusesPlainHTTP(t *testing.T) {
	up := upstream(t, "v1")
	_, base := serveRouter(t, frontEnd{name: "tls", server: HTTPServerFast, tls: true}, twoVersions(up.URL, up.URL, 0))
	out, closed := rawExchange(t, strings.Replace(base, "https://", "http://", 1), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if strings.Contains(out, "200 OK") || !closed {
		t.Errorf("plain HTTP on the TLS listener: %q, closed %v", out, closed)
	}
}

// Router.Update (SIGHUP in `kanaria router`) reloads the certificate: new
// handshakes get the new one, connections made before go on with theirs,
// HTTP/1.1 and HTTP/2 alike, and a certificate that cannot be read is
// refused with the table, the old one still served.
func TestCertificateReloadKeepsConnections(t *testing.T) {
	up := upstream(t, "v1")
	dir := t.TempDir()
	first, err := writeSelfSigned(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	cfg := twoVersions(up.URL, up.URL, 0)
	cfg.TLS = &TLSConfig{CertFile: first.certFile, KeyFile: first.keyFile}
	r, base := serveRouter(t, frontEnd{name: "tls", server: HTTPServerFast}, cfg)
	base = strings.Replace(base, "http://", "https://", 1)
	addr := strings.TrimPrefix(base, "https://")

	// served says which certificate a new handshake presents.
	served := func(pool *x509.CertPool) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			return "handshake: " + err.Error()
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	clientFor := func(pool *x509.CertPool, h2 bool) *http.Client {
		tc := &tls.Config{RootCAs: pool}
		if !h2 {
			tc.NextProtos = []string{"http/1.1"}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: h2}}
	}
	h1c, h2c := clientFor(first.pool, false), clientFor(first.pool, true)
	for _, c := range []*http.Client{h1c, h2c} {
		if resp := get(t, c, base+"/", map[string]string{"X-User": "a"}); resp.StatusCode != 200 {
			t.Fatalf("before reload: %d", resp.StatusCode)
		}
	}

	second, err := writeSelfSigned(dir, "second") // the same files, rewritten
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if got := served(second.pool); got != "second" {
		t.Errorf("after reload a new handshake got %q, want the second certificate", got)
	}
	for name, c := range map[string]*http.Client{"http/1.1": h1c, "h2": h2c} {
		// The pooled connection, made under the first certificate, still
		// carries requests (a new one would fail: the pool trusts the first only).
		resp := get(t, c, base+"/", map[string]string{"X-User": "a"})
		if resp.StatusCode != 200 {
			t.Errorf("%s: connection made before the reload: %d", name, resp.StatusCode)
		}
	}

	os.WriteFile(second.keyFile, []byte("not a key"), 0o600)
	cfg.Releases[0].CanaryWeight = percent(50)
	err = r.Update(cfg)
	if err == nil || !strings.Contains(err.Error(), "tls.keyFile") {
		t.Errorf("Update with a broken key: %v, want an error naming tls.keyFile", err)
	}
	if w, _ := r.Weights("shop"); w.CanaryPPM != 0 {
		t.Errorf("a refused update changed the weights to %v", w)
	}
	if got := served(second.pool); got != "second" {
		t.Errorf("after a refused reload: %q, want the second certificate still", got)
	}
}
