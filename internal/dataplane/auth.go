package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
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
	path  string
	mu    sync.Mutex
	token jsonhttp.Token
}

func newAuth(stateDir string) (*auth, error) {
	a := &auth{path: filepath.Join(stateDir, wire.TokenFile)}
	if _, err := a.expected(); err != nil {
		return nil, err
	}
	return a, nil
}

// expected returns the token's check; it is not Set while there is no token
// file.
func (a *auth) expected() (jsonhttp.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token.Set() {
		return a.token, nil
	}
	tok, err := wire.ReadToken(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return jsonhttp.Token{}, nil
	}
	if err != nil {
		return jsonhttp.Token{}, err
	}
	a.token = jsonhttp.NewToken(tok)
	return a.token, nil
}

// wrap refuses requests without the right bearer token (401).
func (a *auth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want, err := a.expected()
		if err != nil {
			jsonhttp.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if want.Set() && !want.Authorized(r) {
			jsonhttp.WriteUnauthorized(w, "kanaria-dataplane", "missing or wrong bearer token (the client reads it from STATE_DIR/token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lock takes the state directory's data plane lock, or says who holds it.
// The kernel releases it when the process ends, even by kill -9.
func lock(dir string) (func(), error) {
	unlock, held, err := wire.TryLock(filepath.Join(dir, wire.DataPlaneLock))
	if err != nil || !held {
		return unlock, err
	}
	who := ""
	if info, err := readInfo(dir); err == nil {
		who = fmt.Sprintf(" (pid %d, router %s)", info.PID, info.RouterURL)
	}
	return nil, fmt.Errorf("a data plane already runs for state dir %s%s", dir, who)
}

// locked reports whether a process holds the data plane lock of dir, i.e.
// whether a data plane is still alive there (serving or shutting down).
func locked(dir string) bool { return wire.Locked(filepath.Join(dir, wire.DataPlaneLock)) }

// readInfo reads the state directory's wire.DataPlaneInfo.
func readInfo(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, wire.DataPlaneInfo))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// writeInfo writes the state directory's wire.DataPlaneInfo atomically, so
// a reader sees the whole old file or the whole new one.
func writeInfo(dir string, info Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return wire.WriteFileAtomic(filepath.Join(dir, wire.DataPlaneInfo), append(b, '\n'), 0o600)
}
