// Package controller is `kanaria controller`: a controller-runtime manager
// (leader election on a Lease, health and readiness probes, Prometheus
// metrics, slog through logr) whose one controller reconciles kanaria.dev
// Rollouts with the same pure engine `kanaria up` runs on one machine.
//
// The Rollout's status is the store. One reconcile of a Rollout:
//
//  1. reads the Rollout from the API server (not the cache: a stale status
//     would replay a transition already acted on) and validates its spec
//     (internal/spec, with field paths) and its target (the platform's
//     Validate: the Deployment exists and has the named containers). An
//     invalid Rollout gets the condition Invalid=True with the reason, and
//     nothing is created or changed for it;
//  2. turns what a user wrote into engine commands, each applied once
//     (commands.go): spec.revision differing from status.observedRevision
//     starts a release, spec.paused pauses and resumes, the annotation
//     kanaria.dev/command "<verb>/<id>" whose id differs from
//     status.lastCommand promotes, aborts, undoes or stops. A command the
//     engine refuses becomes a Warning Event and is marked handled;
//  3. observes (world.go) the platform State of every copy the status
//     implies and the traffic provider's read-back, and lets engine.Reconcile
//     move the release on;
//  4. writes the status, if it changed, with Status().Update on the
//     resourceVersion it read, BEFORE acting: a conflict means someone else
//     moved the Rollout, and the pass acts on nothing and is retried;
//  5. acts (world.go): one Kubernetes Event per engine event (reason = the
//     event's type), then brings the cluster to what the status says, in the
//     engine's order: the copies it needs are ensured, the traffic provider
//     is set, and only once the provider reads the weights back are copies
//     the status no longer names stopped. Every step is idempotent and
//     derived from the status alone, so a controller killed at any point,
//     or a pass whose action failed, is completed by the next pass;
//  6. requeues at the next deadline of the release (a timed pause's end,
//     the warm previous revision's scale-down, blue/green's auto-promotion)
//     and every PollInterval while a release progresses or the traffic has
//     not been read back.
//
// Analysis (analysis.go) is the one machine's: internal/analysis/run's
// step and background runs with the router, Prometheus and web providers
// (remote ones asked beside the pass), judged on every pass, their verdicts observations of the engine (Fail
// aborts, a finished step passes or pauses for a person). Router metrics
// merge the samples of every live router replica, read from each one's
// admin API (its URL in its Lease, the token in a Secret the replicas and
// the controller share); with gatewayAPI or replicas traffic there are no
// router samples and a router metric is Inconclusive, saying why.
package controller
