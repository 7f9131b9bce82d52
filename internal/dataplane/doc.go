// Package dataplane runs kanaria's router and the local processes of each
// revision in their own long-lived process, apart from the control plane,
// so that a kill -9 of the control plane neither stops traffic nor the
// applications: the router keeps serving its last table until a restarted
// control plane reattaches and pushes the next one.
//
// The server (Run, started by the hidden `kanaria dataplane` command)
// listens for its control API on a unix socket in the state directory,
// mode 0600: the filesystem permission is the authentication, plus the
// state directory's API token when there is one. The client (Connect,
// Ensure) talks to it over that socket.
package dataplane

import "time"

// Files the data plane keeps in the state directory.
const (
	// SocketFile is the control API's unix socket (mode 0600).
	SocketFile = "dataplane.sock"
	// LockFile is flocked by the running data plane, so only one serves a
	// state directory; it is released when the process exits, however it
	// exits, which is also how Shutdown knows the process is gone.
	LockFile = "dataplane.lock"
	// InfoFile holds Info as JSON, written atomically once the data plane
	// is ready and removed when it stops.
	InfoFile = "dataplane.json"
	// LogDir is the folder (under the state directory) of the local
	// instances' log files.
	LogDir = "logs"
)

// Info describes a running data plane (GET /v1/info and InfoFile).
type Info struct {
	PID       int       `json:"pid"`
	RouterURL string    `json:"routerURL"`
	StartedAt time.Time `json:"startedAt"`
}
