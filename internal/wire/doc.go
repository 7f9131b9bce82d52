// Package wire is the control-plane API's contract, shared by the server that
// answers it (internal/server), the control plane behind it
// (internal/controlplane), the Go client (internal/client) and the CLI: the
// request and response types, the errors with their statuses, the files of
// the state directory, and how a client finds a running control plane and its
// token. The HTTP mechanics every kanaria API shares (the error body, the
// bearer check) are in the sub-package jsonhttp.
//
// Routes (all but /healthz and /metrics need "Authorization: Bearer TOKEN"):
//
//	GET  /healthz                              200 "ok"
//	GET  /metrics                              Prometheus text format
//	GET  /v1/info                              Info
//	GET  /v1/rollouts                          []RolloutView
//	GET  /v1/rollouts/{name}                   RolloutView
//	POST /v1/rollouts/{name}/{command}         body engine.Command JSON (optional) -> RolloutView
//	                                           command is start|promote|pause|resume|abort|undo|stop
//	GET  /v1/rollouts/{name}/events?after=ID&limit=N              []Event
//	GET  /v1/rollouts/{name}/logs?revision=R&baseline=bool&tail=N  text/plain
//	GET  /v1/rollouts/{name}/analysis          []AnalysisRun
//	GET  /v1/rollouts/{name}/history?since=UNIXMS                 []HistoryPoint
//	GET  /v1/rollouts/{name}/watch?after=ID    Server-Sent Events (see WatchRollout)
//	GET  /v1/watch                             Server-Sent Events (see WatchRollouts)
//
// Errors are JSON {"error": "..."} (jsonhttp.Error) with 400 (bad input, or a
// request that can never be carried out, InvalidError), 401 (no or wrong
// token), 404 (unknown rollout, ErrNotFound), 409 (the command does not apply
// now, ConflictError), 503 (a part kanaria needs is being restarted,
// UnavailableError).
package wire
