package wire

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestEnsureTokenCreatesPrivateFileOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tok, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 20 {
		t.Fatalf("token %q is too short to be random", tok)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("token file mode %04o, want 0600", perm)
	}
	again, err := EnsureToken(dir)
	if err != nil || again != tok {
		t.Fatalf("second EnsureToken = %q, %v; want the same %q", again, err, tok)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("state dir holds %d entries, want only the token (no temp files)", len(entries))
	}
}

func TestEnsureTokenConcurrentAgree(t *testing.T) {
	dir := t.TempDir()
	toks := make([]string, 8)
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			tok, err := EnsureToken(dir)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatalf("concurrent EnsureToken disagree: %q", toks)
		}
	}
}

func TestTokenFileReadableByOthersRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := EnsureToken(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TokenFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureToken(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("0644 token accepted: %v", err)
	}
	if _, err := ReadToken(path); err == nil {
		t.Fatal("ReadToken accepted a 0644 token")
	}
}

func TestEmptyTokenFileRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TokenFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureToken(dir); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty token accepted: %v", err)
	}
}

func TestEndpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadEndpoint(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing endpoint: %v, want fs.ErrNotExist", err)
	}
	for _, u := range []string{"http://127.0.0.1:7070", "http://127.0.0.1:41234"} {
		if err := WriteEndpoint(dir, u); err != nil {
			t.Fatal(err)
		}
		got, err := ReadEndpoint(dir)
		if err != nil || got != u {
			t.Fatalf("ReadEndpoint = %q, %v; want %q", got, err, u)
		}
	}
	if err := WriteEndpoint(dir, "127.0.0.1:7070"); err == nil {
		t.Fatal("URL without scheme accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, EndpointFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEndpoint(dir); err == nil {
		t.Fatal("garbage endpoint accepted")
	}
}
