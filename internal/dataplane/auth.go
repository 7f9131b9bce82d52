package dataplane

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/kanaria-dev/kanaria/internal/server"
)

// auth checks the state directory's API token on every control request,
// when the directory has one. The socket's mode already keeps other users
// out; the token also keeps out processes of this user that were not given
// the state directory's secret, the same rule as the control plane's API.
//
// A token that appears after the data plane started (the control plane
// writes it on its first start) is picked up then; once known it stays
// required, so deleting the file cannot switch the check off.
type auth struct {
	path string
	mu   sync.Mutex
	want *[sha256.Size]byte
}

func newAuth(stateDir string) (*auth, error) {
	a := &auth{path: filepath.Join(stateDir, server.TokenFile)}
	if _, err := a.expected(); err != nil {
		return nil, err
	}
	return a, nil
}

// expected returns the token's digest, or nil when there is no token file.
func (a *auth) expected() (*[sha256.Size]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.want != nil {
		return a.want, nil
	}
	tok, err := server.ReadToken(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(tok))
	a.want = &sum
	return a.want, nil
}

// wrap refuses requests without the right bearer token (401).
func (a *auth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want, err := a.expected()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if want != nil {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (the client reads it from STATE_DIR/token)")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// lock takes the state directory's data plane lock, or says who holds it.
// The kernel releases it when the process ends, even by kill -9.
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		who := ""
		if info, err := readInfo(dir); err == nil {
			who = fmt.Sprintf(" (pid %d, router %s)", info.PID, info.RouterURL)
		}
		return nil, fmt.Errorf("a data plane already runs for state dir %s%s", dir, who)
	}
	return func() { f.Close() }, nil
}

// locked reports whether a process holds the data plane lock of dir, i.e.
// whether a data plane is still alive there (serving or shutting down).
func locked(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// readInfo reads InfoFile.
func readInfo(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// writeJSONFile writes v under a temporary name and renames it into place,
// so a reader sees the whole old file or the whole new one.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	return os.Rename(tmp.Name(), path)
}
