package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// File names inside the state directory that the CLI reads to find and
// authenticate to a running control plane.
const (
	TokenFile    = "token"
	EndpointFile = "endpoint"
)

// tokenCheck compares presented tokens with the expected one in constant
// time. Both sides are hashed first so that not even the token's length
// leaks through timing (subtle.ConstantTimeCompare returns early on a length
// mismatch).
type tokenCheck struct{ want [sha256.Size]byte }

func newTokenCheck(token string) tokenCheck { return tokenCheck{want: sha256.Sum256([]byte(token))} }

func (t tokenCheck) ok(presented string) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], t.want[:]) == 1
}

// bearer extracts the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// requireToken refuses a request without the right bearer token before the
// backend sees it.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok && s.cookieAuth(w, r, next) {
			return // a dashboard session (dashboard.go); the bearer token wins
		}
		if !ok || !s.token.ok(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kanaria"`)
			msg := "missing bearer token (the CLI reads it from STATE_DIR/token)"
			if ok {
				msg = "wrong token"
			}
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// EnsureToken returns the API token kept in stateDir/token, creating the
// directory and a fresh random token (mode 0600) if there is none yet. A
// token file that others can read is refused rather than silently used or
// repaired: somebody changed it, and they should know it leaked.
func EnsureToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, TokenFile)
	tok, err := readToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("create state dir: %w", err)
	}
	// Write under a temporary name and link it into place: a crash never
	// leaves an empty token file, and of two processes starting at once
	// exactly one token wins and both use it.
	tmp, err := os.CreateTemp(stateDir, ".token-*")
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("create token: %w", err)
	}
	_, werr := tmp.WriteString(rand.Text() + "\n")
	serr := tmp.Sync()
	if cerr := tmp.Close(); werr == nil {
		werr = errors.Join(serr, cerr)
	}
	if werr != nil {
		return "", fmt.Errorf("write token: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("install token: %w", err)
	}
	return readToken(path)
}

// ReadToken reads the token of the control plane whose state is in stateDir
// (or any token file, for --token-file); it never creates one.
func ReadToken(path string) (string, error) { return readToken(path) }

func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s is accessible by other users (mode %04o); run: chmod 600 %s",
			path, fi.Mode().Perm(), path)
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

// WriteEndpoint records where the running control plane's API listens, so
// that CLI commands find it without flags. Written atomically: a reader
// sees the old URL or the new one.
func WriteEndpoint(stateDir, apiURL string) error {
	if _, err := parseAPIURL(apiURL); err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	tmp, err := os.CreateTemp(stateDir, ".endpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(apiURL + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write endpoint: %w", werr)
	}
	return os.Rename(tmp.Name(), filepath.Join(stateDir, EndpointFile))
}

// ReadEndpoint returns the API URL written by WriteEndpoint. A missing file
// is reported as fs.ErrNotExist so callers can say "run kanaria up".
func ReadEndpoint(stateDir string) (string, error) {
	path := filepath.Join(stateDir, EndpointFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	u := strings.TrimSpace(string(b))
	if _, err := parseAPIURL(u); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

func parseAPIURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bad API URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad API URL %q: want http(s)://host:port", s)
	}
	return u, nil
}
