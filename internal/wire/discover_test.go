package wire

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	if _, err := Discover(dir, "", ""); !errors.Is(err, ErrNoControlPlane) || !strings.Contains(err.Error(), "run `kanaria up`)") {
		t.Fatalf("empty state dir: %v", err)
	}
	if _, err := Discover(dir, "", filepath.Join(dir, "elsewhere")); !errors.Is(err, ErrNoControlPlane) || !strings.Contains(err.Error(), "or pass --server") {
		t.Fatalf("no endpoint, --token-file: %v", err)
	}
	if _, err := Discover(dir, "http://127.0.0.1:1", ""); err == nil || !strings.Contains(err.Error(), "pass --token-file") {
		t.Fatalf("--server without a token: %v", err)
	}
	tok, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Discover(dir, "", ""); !errors.Is(err, ErrNoControlPlane) {
		t.Fatalf("token but no endpoint: %v", err)
	}
	if err := WriteEndpoint(dir, "http://127.0.0.1:7070"); err != nil {
		t.Fatal(err)
	}
	if ep, err := Discover(dir, "", ""); err != nil || ep != (Endpoint{URL: "http://127.0.0.1:7070", Token: tok}) {
		t.Fatalf("Discover = %+v, %v", ep, err)
	}
	// Flags win over the files.
	other := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(other, []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ep, err := Discover(dir, "http://127.0.0.1:9", other); err != nil || ep != (Endpoint{URL: "http://127.0.0.1:9", Token: "other"}) {
		t.Fatalf("Discover with flags = %+v, %v", ep, err)
	}
}

func TestEnsureTokenFileKeepsTheOperatorsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "admin-token")
	tok, created, err := EnsureTokenFile(path)
	if err != nil || !created || len(tok) < 20 {
		t.Fatalf("first EnsureTokenFile = %q, %v, %v", tok, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created token file: %v %v", fi, err)
	}
	// A file provisioned by other tools may be readable by others: it is
	// the operator's, and it is used as it is.
	if err := os.WriteFile(path, []byte("provisioned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tok, created, err := EnsureTokenFile(path); err != nil || created || tok != "provisioned" {
		t.Fatalf("provisioned file = %q, %v, %v", tok, created, err)
	}
}

func TestTryLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFile)
	if Locked(path) {
		t.Fatal("a missing lock file is locked")
	}
	unlock, held, err := TryLock(path)
	if err != nil || held {
		t.Fatalf("first TryLock: held %v, %v", held, err)
	}
	if _, held, err := TryLock(path); err != nil || !held {
		t.Fatalf("second TryLock: held %v, %v; want held", held, err)
	}
	if !Locked(path) {
		t.Fatal("Locked = false while held")
	}
	unlock()
	if Locked(path) {
		t.Fatal("Locked = true after unlock")
	}
}
