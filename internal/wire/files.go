package wire

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The state directory: where `kanaria up`, the data plane and the CLI find
// each other. DefaultStateDir unless StateDirEnv or --state-dir says
// otherwise.
const (
	DefaultStateDir = ".kanaria"
	StateDirEnv     = "KANARIA_STATE_DIR"
)

// Files of the state directory, by name within it.
const (
	// DBFile is the control plane's SQLite store.
	DBFile = "kanaria.db"
	// TokenFile holds the API token (mode 0600); the data plane's socket
	// API requires it too once it exists.
	TokenFile = "token"
	// EndpointFile holds the URL of the running control plane's API.
	EndpointFile = "endpoint"
	// SaltFile keeps the stickiness salt across restarts: a new salt
	// would move every user to another bucket.
	SaltFile = "salt"
	// LockFile is flocked by the running `kanaria up`: one per directory.
	LockFile = "lock"
	// DataPlaneSocket is the data plane's control API (a unix socket,
	// mode 0600).
	DataPlaneSocket = "dataplane.sock"
	// DataPlaneLock is flocked by the running data plane, so only one
	// serves a state directory; the kernel releases it however the process
	// ends, which is also how a client knows the process is gone.
	DataPlaneLock = "dataplane.lock"
	// DataPlaneInfo holds the running data plane's pid and router URL as
	// JSON, written once it is ready and removed when it stops.
	DataPlaneInfo = "dataplane.json"
	// LogDir holds the data plane's own log (DataPlaneLog) and the local
	// instances' output, LogDir/<rollout>/<revision>-<instance>.log.
	LogDir       = "logs"
	DataPlaneLog = "dataplane.log"
	// RouterAdminTokenFile is the standalone router's admin token, in a
	// DefaultStateDir next to its routes file unless configured.
	RouterAdminTokenFile = "router-admin-token"
)

// TryLock takes an exclusive flock on path (created mode 0600 if missing)
// without waiting. held is true when another process has it; unlock
// releases it, and so does the kernel when the process ends, even by
// kill -9.
func TryLock(path string) (unlock func(), held bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, false, nil
}

// Locked reports whether a process holds the flock on path; a missing file
// is not locked. It does not create the file.
func Locked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
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

// WriteFileAtomic writes data to path under a temporary name in the same
// directory, syncs it and renames it into place, so that a reader sees the
// whole old file or the whole new one, and a crash never leaves half a file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing left
	if err := writeSynced(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeSynced fills a fresh temporary file and closes it.
func writeSynced(f *os.File, data []byte, perm os.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
