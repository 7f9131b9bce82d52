// Package dataplane runs kanaria's router and the local processes of each
// revision in their own long-lived process, apart from the control plane,
// so that a kill -9 of the control plane neither stops traffic nor the
// applications: the router keeps serving its last table until a restarted
// control plane reattaches and pushes the next one.
//
// The server (Run, started by the hidden `kanaria dataplane` command)
// listens for its control API on a unix socket in the state directory,
// mode 0600: the filesystem permission is the authentication, plus the
// state directory's API token when there is one. Its files in the state
// directory are named in internal/wire. The client (Connect,
// Ensure) talks to it over that socket.
package dataplane

import "time"

// Info describes a running data plane (GET /v1/info and the state
// directory's wire.DataPlaneInfo).
type Info struct {
	PID       int       `json:"pid"`
	RouterURL string    `json:"routerURL"`
	StartedAt time.Time `json:"startedAt"`
}
