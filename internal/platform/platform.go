// Package platform runs the revisions of a service: local supervised
// processes, or static endpoints that already run elsewhere. It knows nothing
// of traffic.
package platform

import "context"

// Capability is something a platform can do; callers check the declared list
// instead of calling methods that would silently do nothing.
type Capability string

// Capabilities a platform may declare.
const (
	// CanStart: Ensure really starts instances (static endpoints only look up).
	CanStart Capability = "start"
	// CanStop: Stop really stops instances.
	CanStop Capability = "stop"
	// HasLogs: Logs returns the instances' output.
	HasLogs Capability = "logs"
	// HasBaseline: a separate baseline copy of a revision can run.
	HasBaseline Capability = "baseline"
)

// Instance identifies one running copy of a revision of a rollout: the
// revision itself or its baseline copy.
type Instance struct {
	Rollout  string `json:"rollout"`
	Revision string `json:"revision"`
	Baseline bool   `json:"baseline,omitempty"`
}

// State is what a platform observes about an Instance.
type State struct {
	// Endpoints are base URLs of ready instances ("http://127.0.0.1:9001").
	Endpoints []string `json:"endpoints"`
	Ready     bool     `json:"ready"`
	// Failed: crashed repeatedly or never became ready; Reason says which.
	Failed   bool   `json:"failed,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	// LastExit says how the last crashed run of an instance ended ("instance
	// 0: exited with status 2; last log line: ..."), for the history.
	LastExit string `json:"lastExit,omitempty"`
}

// Platform is where revisions run.
type Platform interface {
	// Capabilities lists what this platform supports.
	Capabilities() []Capability
	// Ensure makes the instance run (idempotent, returns without waiting
	// for readiness).
	Ensure(ctx context.Context, in Instance) error
	// Stop stops the instance (idempotent): SIGTERM, then SIGKILL after the
	// grace period, for local processes.
	Stop(ctx context.Context, in Instance) error
	// State reports the instance; ok is false if it is not known.
	State(in Instance) (st State, ok bool)
	// Close stops everything this platform started.
	Close(ctx context.Context) error
}

// Has reports whether p declares capability c.
func Has(p Platform, c Capability) bool {
	for _, have := range p.Capabilities() {
		if have == c {
			return true
		}
	}
	return false
}
