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
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and returns the files and
// a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kanaria test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Over TLS: HTTP/2 for clients that offer it, HTTP/1.1 (guarded) for the
// rest, https in X-Forwarded-Proto, Secure on the sticky cookie, and the
// smuggling shapes still refused.
func TestServeTLS(t *testing.T) {
	up := upstream(t, "v1")
	certFile, keyFile, pool := selfSigned(t)
	cfg := twoVersions(up.URL, up.URL, 0)
	cfg.Key.Header = ""
	cfg.TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, r, cfg) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	url := "https://" + ln.Addr().String() + "/"

	for _, tc := range []struct {
		name  string
		h2    bool
		proto int
	}{{"h2", true, 2}, {"http/1.1", false, 1}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: tc.h2}
		if !tc.h2 {
			tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.ProtoMajor != tc.proto || resp.StatusCode != 200 {
			t.Errorf("%s: %s %d", tc.name, resp.Proto, resp.StatusCode)
		}
		if resp.Header.Get("X-Seen-XFP") != "https" || resp.Header.Get(DefaultVersionHeader) != "v1" {
			t.Errorf("%s: X-Forwarded-Proto %q, stamp %q", tc.name, resp.Header.Get("X-Seen-XFP"), resp.Header.Get(DefaultVersionHeader))
		}
		if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "; Secure") {
			t.Errorf("%s: sticky cookie without Secure: %q", tc.name, sc)
		}
	}

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, shapeCLTE)
	out, err := io.ReadAll(conn)
	if !strings.HasPrefix(string(out), "HTTP/1.1 400") || err != nil {
		t.Errorf("CL+TE over TLS: %q, %v", firstLine(string(out)), err)
	}
}
