// Package engine is kanaria's release state machine. It is pure: every
// function takes the spec, the current status, what was observed or commanded,
// and the time, and returns the new status and the actions the caller must
// carry out, in order. It does no I/O and reads no clock.
//
//	func Apply(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, cmd Command, now time.Time) (v1alpha1.RolloutStatus, []Action, error)
//	func Reconcile(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, obs Observations, now time.Time) (v1alpha1.RolloutStatus, []Action)
//
// The status type lives with the API types because it is also the status of
// the Kubernetes Rollout object; the engine reads and writes only its
// release fields and the Ready condition, never the cluster's own fields
// (the other conditions, observed revision, ...). In a cluster the
// controller writes every condition itself.
//
// Apply handles a user's command (start, promote, pause, ...); an error means
// the command does not apply in this state (the status is returned unchanged
// and the error says why in plain words). Reconcile advances time-driven and
// observation-driven transitions (a pause elapsed, a version became ready or
// crashed). Both bump RolloutStatus.Generation whenever the status changes.
//
// Semantics (Argo Rollouts vocabulary):
//
//   - Initial: Healthy, stable = spec.revision, EnsureVersion + SetTraffic
//     (100 % stable). spec.revision only seeds the first status.
//   - start <rev> (from Healthy or Aborted): EnsureVersion of rev (and of a
//     baseline copy of stable when the canary has baseline: true), a
//     SetTraffic naming the canary at weight 0 (reachable only through the
//     override header), phase Progressing. Nothing else happens until
//     Reconcile sees the canary (and baseline) Ready. Refused during
//     another release; a repeat for the revision being released, or a start
//     of the stable revision, is a no-op Refusal.
//   - Canary steps run when ready: setWeight applies at once (baseline gets
//     min(w, 100%-w)) and moves on once the router reads the weights back
//     (readback.go): until obs.RouterWeights equal status.Weights (nil or
//     different is waiting, the message says "waiting for traffic
//     read-back: observed X, want Y") no further step is taken and the
//     next step is entered, its clock (StepStartedAt: a pause, an
//     analysis window) starting, at the tick the read-back matches; the
//     same holds for blue/green's switch to a post-promotion analysis.
//     Aborts and stops never wait, nor a release whose observations are
//     Approximate (whole pods). A caller whose router reads back at once
//     reconciles again while WaitsForReadBack; setMirror adds, changes or removes a
//     named mirror route in status.mirrors and moves on (the SetTraffic
//     carries the mirror: the strategy's, from readiness, and the routes); pause with duration waits until
//     StepStartedAt+duration; pause {} sets Paused (PausedBy "step"). Past
//     the last step the canary is promoted.
//     setHeaderRoute adds (or, by name, replaces) a route in
//     status.headerRoutes, or removes it when it has no match, and moves
//     on; the SetTraffic carries the routes, and every end of the release
//     (promotion, abort, stop) clears them with the weights.
//   - analysis (a canary step, blue/green's pre- and post-promotion
//     analyses; analysis.go): judged from StepStartedAt. After its
//     duration a verdict with enough samples ends it (Pass moves on,
//     Inconclusive sets Paused, PausedBy "inconclusive"); short of samples
//     it keeps collecting until its timeout, then ends Inconclusive with
//     the counts it saw. A Fail (the stage's or the background's) aborts
//     at once. Analyses names the analyses each state calls for.
//   - Promotion (finish): one SetTraffic with StableRevision = the new
//     revision, then the baseline copy is stopped; the old stable becomes
//     PreviousRevision, kept warm until ScaleDownAt (blue/green
//     scaleDownDelay, else 30s); Reconcile stops it then. Phase Healthy.
//   - Blue/green: green = CanaryRevision at weight 0; when ready (and
//     after its pre-promotion analysis passed), with autoPromotion it
//     switches after autoPromotionDelay, else Paused (PausedBy
//     "promotion") until promote. With a post-promotion analysis the
//     switch gives green 100 % as the canary, blue still stable and warm;
//     its Pass promotes, its Fail aborts: one swap back (bluegreen.go).
//   - promote: past the current step (pause {} or a timed pause, also
//     ending a user pause); blue/green: the switch. Refused before the
//     canary is ready, and while a blue/green analysis judges. promote --full: straight to promotion, at once if
//     ready, else as soon as it is.
//   - pause: Progressing -> Paused (PausedBy "user"); timers freeze.
//     resume shifts StepStartedAt by the paused time. Only a user's pause
//     resumes; step and promotion pauses continue with promote.
//   - abort: SetTraffic without canary and weights 0 FIRST, then
//     StopVersion of the canary and the baseline copy; phase Aborted until
//     the next start or stop. A Failed canary or baseline in any release
//     phase aborts the same way, the event saying why. stop: the same but
//     phase Healthy (and it clears Aborted).
//   - undo: during a release it aborts. Otherwise it makes PreviousRevision
//     stable: at once when still warm (the undone revision is kept warm in
//     turn, so undo toggles); after scale-down it starts it again and
//     promotes it fully as soon as it is ready.
//   - Every change bumps Generation once and sets UpdatedAt; a Reconcile
//     with nothing to do returns the status unchanged and no actions.
//     ObservedWeights follow obs.RouterWeights, nil when unknown (no
//     actions); they are also what a release waits on (above).
//   - Readiness: once steps run, a canary (or baseline) observed
//     Unavailable (a crash being restarted, the data plane down) makes
//     CanaryReady false (ReadyLostAt, event NotReady): no step moves,
//     timers are frozen and promote is refused (promote --full waits) until
//     it is ready again (event Ready), where it was.
//   - Stable health: the stable revision observed ready sets the Ready
//     condition True. From Healthy or Aborted, a stable observed Failed
//     makes the phase Degraded (event Degraded, condition Ready False
//     StableNotServing with the reason); RestartVersion of it after 1 s,
//     then 2 s, 4 s, ... up to a minute; ready again: Healthy (event
//     Recovered, Ready True). The engine writes no other condition.
//   - obs.Events are recorded as they are, ahead of the engine's own.
//   - Refused commands return *Refusal; NoOp marks a repeat whose intent
//     already holds ("already paused").
package engine

import (
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// VersionKey names one running copy of a revision: the revision itself, or
// its baseline copy (a fresh, separate set of instances of the stable
// revision started beside the canary). Platforms key their instances by it.
func VersionKey(revision string, baseline bool) string {
	if baseline {
		return revision + "+baseline"
	}
	return revision
}

// CommandKind is a user's command.
type CommandKind string

// Commands from the CLI and the API.
const (
	CmdStart   CommandKind = "start"   // Revision required
	CmdPromote CommandKind = "promote" // Full skips all remaining steps
	CmdPause   CommandKind = "pause"
	CmdResume  CommandKind = "resume"
	CmdAbort   CommandKind = "abort"
	CmdUndo    CommandKind = "undo"
	CmdStop    CommandKind = "stop" // end the release: stable 100 %, canary removed, phase Healthy
)

// Command is a user's request.
type Command struct {
	Kind     CommandKind `json:"kind"`
	Revision string      `json:"revision,omitempty"`
	Full     bool        `json:"full,omitempty"`
	Reason   string      `json:"reason,omitempty"`
}

// VersionState is what the platform reports about one running copy.
type VersionState struct {
	Ready bool `json:"ready"`
	// Failed: it crashed repeatedly or never became ready. A failed canary
	// is a failed release.
	Failed bool   `json:"failed,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Unavailable: nothing of it serves now (no instance ready, or the
	// data plane that runs it is down), unlike a copy that serves with part
	// of its instances. A canary or baseline that was ready and becomes
	// Unavailable holds the release until it is Ready again. Platforms that
	// cannot tell leave it false.
	Unavailable bool `json:"unavailable,omitempty"`
}

// Observations are what the edges saw since the last step.
type Observations struct {
	// Versions by VersionKey, for the copies the actions asked to run.
	Versions map[string]VersionState `json:"versions,omitempty"`
	// RouterWeights were read back from the router, nil if unknown.
	RouterWeights *v1alpha1.Weights `json:"routerWeights,omitempty"`
	// Approximate: RouterWeights come from a traffic provider that can
	// only approach the weights (whole pods), so they never equal the
	// weights set and a release does not wait for them (readback.go).
	Approximate bool `json:"approximate,omitempty"`
	// StepAnalysis is the latest verdict of the current stage's analysis
	// (a canary analysis step, blue/green's pre- or post-promotion
	// analysis), BackgroundAnalysis that of the canary strategy's
	// background analysis; nil when none has been judged yet.
	StepAnalysis       *AnalysisResult `json:"stepAnalysis,omitempty"`
	BackgroundAnalysis *AnalysisResult `json:"backgroundAnalysis,omitempty"`
	// Events are what the edges noticed that belongs in the history but is
	// no decision of the engine's: a process that crashed and was
	// restarted, the data plane lost and started again. Reconcile records
	// each (Type and Message; Time is now), ahead of its own events.
	Events []Event `json:"events,omitempty"`
}

// AnalysisResult is the judge's latest verdict on a running analysis, as
// the control plane observed it. The engine only needs the verdict and the
// canary's request count; Summary carries the numbers into events.
type AnalysisResult struct {
	// Kind is the analysis judged (AnalysisStep, AnalysisBackground,
	// AnalysisPrePromotion, AnalysisPostPromotion); empty means a step's,
	// or the background's when Step is -1.
	Kind string `json:"kind,omitempty"`
	// Revision is the canary revision judged and Step the analysis step's
	// index (-1 for any other kind): a verdict about anything else is
	// ignored.
	Revision string `json:"revision"`
	Step     int    `json:"step"`
	// Verdict is VerdictPass, VerdictFail or VerdictInconclusive.
	Verdict string `json:"verdict"`
	// CanaryRequests is how many canary requests the analysis has seen.
	CanaryRequests int64 `json:"canaryRequests"`
	// NeedsData: an Inconclusive verdict that more samples may still
	// decide (a metric has no data, fewer than its minSamples, or its
	// provider has not answered yet). A step then keeps collecting past
	// its duration, until its timeout.
	NeedsData bool `json:"needsData,omitempty"`
	// Summary is one line with the numbers behind the verdict.
	Summary string `json:"summary"`
}

// Verdicts as the judge names them.
const (
	VerdictPass         = "Pass"
	VerdictFail         = "Fail"
	VerdictInconclusive = "Inconclusive"
)

// ActionKind says what the caller must do.
type ActionKind string

// Actions, carried out in the order returned.
const (
	// ActEnsureVersion: make Revision (its baseline copy if Baseline) run;
	// idempotent.
	ActEnsureVersion ActionKind = "ensureVersion"
	// ActStopVersion: stop Revision (its baseline copy if Baseline).
	ActStopVersion ActionKind = "stopVersion"
	// ActRestartVersion: stop Revision and start it again, for a stable
	// revision that does not serve (phase Degraded). Its place in the
	// routing table is kept: nothing else could serve instead.
	ActRestartVersion ActionKind = "restartVersion"
	// ActSetTraffic: route as Traffic says, as one atomic router swap.
	ActSetTraffic ActionKind = "setTraffic"
	// ActRecordEvent: append Event to the rollout's history.
	ActRecordEvent ActionKind = "recordEvent"
)

// Action is one thing the caller must do.
type Action struct {
	Kind     ActionKind `json:"kind"`
	Revision string     `json:"revision,omitempty"`
	Baseline bool       `json:"baseline,omitempty"`
	Traffic  *Traffic   `json:"traffic,omitempty"`
	Event    *Event     `json:"event,omitempty"`
}

// Traffic is a complete routing assignment. CanaryRevision empty means no
// canary; BaselineRevision, when set, is served by that revision's baseline
// copy.
type Traffic struct {
	StableRevision   string           `json:"stableRevision"`
	CanaryRevision   string           `json:"canaryRevision,omitempty"`
	BaselineRevision string           `json:"baselineRevision,omitempty"`
	Weights          v1alpha1.Weights `json:"weights"`
	// Mirror, when set, copies stable's requests to the canary (and the
	// baseline): its options, its strategy-wide share, and MirrorRoutes,
	// the setMirror routes in force. Set only while a ready canary runs.
	Mirror       *v1alpha1.Mirror       `json:"mirror,omitempty"`
	MirrorRoutes []v1alpha1.MirrorRoute `json:"mirrorRoutes,omitempty"`
	// HeaderRoutes send matching requests to the canary whatever the
	// weights; only with a canary.
	HeaderRoutes []v1alpha1.SetHeaderRoute `json:"headerRoutes,omitempty"`
}

// Event is one line of a rollout's history.
type Event struct {
	Type    string    `json:"type"` // one of the Event* constants
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Event types, one per kind of transition.
const (
	EventInitialized = "Initialized" // first status: stable serves all
	EventStarted     = "Started"     // start <rev>
	EventReady       = "Ready"       // canary (and baseline) observed ready
	EventStepReached = "StepReached" // "step 3/8: setWeight 10%"
	EventPaused      = "Paused"      // pause step, user pause, blue/green waiting
	EventResumed     = "Resumed"
	EventPromoted    = "Promoted" // a user's promote
	EventAborted     = "Aborted"  // by user, by undo during a release, or a failed canary
	EventStopped     = "Stopped"  // stop: release ended, phase Healthy
	EventFinished    = "Finished" // the canary became the stable revision
	// EventSwitched: blue/green switched all traffic to green, whose
	// post-promotion analysis now judges it while blue is kept warm.
	EventSwitched   = "Switched"
	EventScaledDown = "ScaledDown"
	EventUndone     = "Undone"
	// Analysis verdicts that moved a release: a passed analysis step, a
	// Fail (step or background) that aborts, an Inconclusive step that
	// pauses for a human.
	EventAnalysisPassed       = "AnalysisPassed"
	EventAnalysisFailed       = "AnalysisFailed"
	EventAnalysisInconclusive = "AnalysisInconclusive"
	// EventNotReady: a canary (or baseline) that was ready is not; the
	// release waits where it is (EventReady when it is back).
	EventNotReady = "NotReady"
	// EventDegraded: the stable revision does not serve (phase Degraded);
	// EventRecovered: it serves again.
	EventDegraded  = "Degraded"
	EventRecovered = "Recovered"
	// Recorded from Observations.Events, as the edges name them: a process
	// that crashed and was restarted; the data plane lost, and a new one
	// started with the routing table and the versions it needs.
	EventRestarted          = "Restarted"
	EventDataPlaneLost      = "DataPlaneLost"
	EventDataPlaneRestarted = "DataPlaneRestarted"
)

// PausedBy values.
const (
	PausedByStep      = "step"
	PausedByUser      = "user"
	PausedByPromotion = "promotion"
	// PausedByInconclusive: an analysis step ended without a verdict;
	// promote continues past it, abort aborts.
	PausedByInconclusive = "inconclusive"
)

// Refusal is the error Apply returns when a command does not apply. Reason
// is a sentence for the user. NoOp means the command asks for what already
// holds (a second pause, start of the revision being released, abort with
// nothing to abort): the CLI may print Reason and succeed.
type Refusal struct {
	Reason string
	NoOp   bool
}

func (e *Refusal) Error() string { return e.Reason }

// IsNoOp reports whether err is a Refusal for a command that was already in
// effect.
func IsNoOp(err error) bool {
	r, ok := err.(*Refusal)
	return ok && r.NoOp
}
