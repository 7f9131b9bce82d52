package wire

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnsureToken returns the API token kept in stateDir/TokenFile, creating the
// directory and a fresh random token (mode 0600) if there is none yet. A
// token file that others can read is refused rather than silently used or
// repaired: somebody changed it, and they should know it leaked.
func EnsureToken(stateDir string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("create state dir: %w", err)
	}
	tok, _, err := ensureToken(filepath.Join(stateDir, TokenFile), true)
	return tok, err
}

// ReadToken reads a control plane's token file (stateDir/TokenFile, or any
// token file, for --token-file); it never creates one, and refuses a file
// that other users can read.
func ReadToken(path string) (string, error) { return readToken(path, true) }

// EnsureTokenFile returns the token in path, creating the file (mode 0600,
// and its directory) with a fresh random token when it does not exist;
// created says it did. Unlike EnsureToken it accepts a file others can
// read: the standalone router's admin token file is the operator's own,
// possibly provisioned by other tools.
func EnsureTokenFile(path string) (token string, created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("create token directory: %w", err)
	}
	return ensureToken(path, false)
}

func ensureToken(path string, private bool) (string, bool, error) {
	tok, err := readToken(path, private)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	// Write under a temporary name and link it into place: a crash never
	// leaves an empty token file, and of two processes starting at once
	// exactly one token wins and both use it.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return "", false, fmt.Errorf("create token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, []byte(rand.Text()+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write token: %w", err)
	}
	created := true
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		created = false // another process won the race: use its token
	} else if err != nil {
		return "", false, fmt.Errorf("install token: %w", err)
	}
	tok, err = readToken(path, private)
	return tok, created && err == nil, err
}

func readToken(path string, private bool) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); private && perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s is accessible by other users (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
