package engine

import (
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// commands maps each user command to the one function that handles it.
var commands = map[CommandKind]func(*tx, Command) error{
	CmdStart:   (*tx).start,
	CmdPromote: (*tx).promote,
	CmdPause:   (*tx).pause,
	CmdResume:  (*tx).resume,
	CmdAbort:   (*tx).abort,
	CmdStop:    (*tx).stopRelease,
	CmdUndo:    (*tx).undo,
}

// Apply carries out a user's command. On a *Refusal the status is returned
// unchanged with no actions.
func Apply(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, cmd Command, now time.Time) (v1alpha1.RolloutStatus, []Action, error) {
	if st.Phase == "" {
		return st, nil, fmt.Errorf("rollout %s has no status yet", r.Metadata.Name)
	}
	h, ok := commands[cmd.Kind]
	if !ok {
		return st, nil, &Refusal{Reason: fmt.Sprintf("unknown command %q", cmd.Kind)}
	}
	t := begin(r, st, now)
	if err := h(t, cmd); err != nil {
		return st, nil, err
	}
	s, acts := t.commit(st)
	return s, acts, nil
}

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

func noop(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...), NoOp: true}
}

func noRelease() error {
	return refuse("no release in progress; start one with: kanaria start <revision>")
}

// because renders a user's reason for messages.
func because(cmd Command, dflt string) string {
	if cmd.Reason != "" {
		return cmd.Reason
	}
	return dflt
}

// start begins releasing cmd.Revision from Healthy or Aborted: the canary
// (and a baseline copy of stable) are ensured, and routed with weight 0
// until they are ready.
func (t *tx) start(cmd Command) error {
	rev := cmd.Revision
	if err := v1alpha1.ValidateRevision(rev); err != nil {
		return refuse("start needs a revision: %v", err)
	}
	switch {
	case inRelease(t.st) && rev == t.st.CanaryRevision:
		return noop("%s is already being released (%s)", rev, t.st.Message)
	case inRelease(t.st):
		return refuse("a release of %s is in progress; promote, abort or stop it before starting %s", t.st.CanaryRevision, rev)
	case rev == t.st.StableRevision:
		return noop("%s is already the stable revision; nothing to release", rev)
	}
	if !t.st.ScaleDownAt.IsZero() && t.st.PreviousRevision == rev {
		// The warm previous revision is released again: its running copy
		// becomes the canary and must not be scaled down under it.
		t.st.ScaleDownAt = time.Time{}
	}
	t.beginRelease(rev)
	t.st.Baseline = t.canary() != nil && t.canary().Baseline
	t.ensure(rev, false)
	if t.st.Baseline {
		t.ensure(t.st.StableRevision, true)
	}
	t.route()
	t.st.Message = fmt.Sprintf("waiting for %s to be ready", rev)
	if t.r.Spec.Strategy.BlueGreen != nil {
		t.event(EventStarted, "blue/green release of %s started beside %s", rev, t.st.StableRevision)
	} else {
		t.event(EventStarted, "canary release of %s started (stable %s)", rev, t.st.StableRevision)
	}
	return nil
}

func (t *tx) beginRelease(rev string) {
	t.st.CanaryRevision = rev
	t.st.Phase = v1alpha1.PhaseProgressing
	t.st.StepIndex, t.st.StepStartedAt = 0, t.now
	t.st.PausedBy, t.st.PausedAt = "", time.Time{}
	t.st.CanaryReady, t.st.FullPromotion = false, false
	t.st.ReadyLostAt = time.Time{}
	t.st.Weights = v1alpha1.Weights{}
	t.st.StartedAt = t.now
}

// promote moves a release on: past the current step (canary), the switch
// (blue/green), or with Full straight to 100 % once the canary is ready.
func (t *tx) promote(cmd Command) error {
	if !inRelease(t.st) {
		return noRelease()
	}
	if cmd.Full {
		return t.promoteFull()
	}
	if t.canary() != nil {
		return t.promoteCanary()
	}
	return t.promoteGreen()
}

func (t *tx) promoteFull() error {
	if t.st.FullPromotion {
		return noop("full promotion of %s is already pending: it takes all traffic once it is ready", t.st.CanaryRevision)
	}
	t.event(EventPromoted, "full promotion of %s", t.st.CanaryRevision)
	t.st.FullPromotion = true
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhaseProgressing, "", time.Time{}
	if t.st.CanaryReady {
		t.finish()
		return nil
	}
	t.st.Message = fmt.Sprintf("%s takes all traffic as soon as it is ready", t.st.CanaryRevision)
	return nil
}

// pause freezes a Progressing release; timers resume where they stopped.
func (t *tx) pause(cmd Command) error {
	switch {
	case t.st.Phase == v1alpha1.PhasePaused:
		return noop("already paused (%s)", t.st.Message)
	case t.st.Phase != v1alpha1.PhaseProgressing:
		return noRelease()
	}
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhasePaused, PausedByUser, t.now
	t.st.Message = "paused by user: " + because(cmd, "kanaria pause")
	t.event(EventPaused, "%s", t.st.Message)
	return nil
}

// resume ends a user's pause. A pause step or a blue/green release waiting
// for promotion is not a user's pause: those continue with promote.
func (t *tx) resume(cmd Command) error {
	switch {
	case t.st.Phase == v1alpha1.PhaseProgressing:
		return noop("not paused: the release of %s is progressing", t.st.CanaryRevision)
	case t.st.Phase != v1alpha1.PhasePaused:
		return noRelease()
	case t.st.PausedBy != PausedByUser:
		return refuse("not paused by a user: %s; run kanaria promote to continue", t.st.Message)
	}
	if !t.st.PausedAt.IsZero() {
		t.st.StepStartedAt = t.st.StepStartedAt.Add(t.now.Sub(t.st.PausedAt))
	}
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhaseProgressing, "", time.Time{}
	t.st.Message = fmt.Sprintf("release of %s resumed", t.st.CanaryRevision)
	t.event(EventResumed, "%s", t.st.Message)
	return nil
}

// abort takes the canary out and leaves the phase Aborted until the next
// start or stop.
func (t *tx) abort(cmd Command) error {
	switch {
	case t.st.Phase == v1alpha1.PhaseAborted:
		return noop("already aborted (%s)", t.st.Message)
	case !inRelease(t.st):
		return noop("no release in progress; nothing to abort")
	}
	t.endRelease(v1alpha1.PhaseAborted, EventAborted, "by user: "+because(cmd, "kanaria abort"))
	return nil
}

// stopRelease ends a release like abort but leaves the rollout Healthy; it
// also clears an Aborted phase.
func (t *tx) stopRelease(cmd Command) error {
	switch {
	case inRelease(t.st):
		t.endRelease(v1alpha1.PhaseHealthy, EventStopped, "by user: "+because(cmd, "kanaria stop"))
	case t.st.Phase == v1alpha1.PhaseAborted:
		t.st.Phase = v1alpha1.PhaseHealthy
		t.st.Message = fmt.Sprintf("%s serves all traffic", t.st.StableRevision)
		t.event(EventStopped, "aborted release cleared; %s", t.st.Message)
	default:
		return noop("no release in progress; %s serves all traffic", t.st.StableRevision)
	}
	return nil
}

// undo during a release aborts it. After a release it makes the previous
// stable revision stable again: at once if it is still warm (the undone
// revision is then kept warm in turn, so undo toggles), otherwise it is
// started again and takes all traffic as soon as it is ready.
func (t *tx) undo(cmd Command) error {
	if inRelease(t.st) {
		t.endRelease(v1alpha1.PhaseAborted, EventAborted, "undone: "+because(cmd, "kanaria undo"))
		return nil
	}
	prev, cur := t.st.PreviousRevision, t.st.StableRevision
	if prev == "" || prev == cur {
		return refuse("nothing to undo: there is no previous stable revision")
	}
	if !t.st.ScaleDownAt.IsZero() {
		t.ensure(prev, false)
		t.st.StableRevision, t.st.PreviousRevision = prev, cur
		t.st.Weights = v1alpha1.Weights{}
		t.route()
		t.st.Phase = v1alpha1.PhaseHealthy
		t.keepWarm(cur, fmt.Sprintf("undone: %s is the stable revision again", prev))
		t.event(EventUndone, "%s", t.st.Message)
		return nil
	}
	t.beginRelease(prev)
	t.st.Baseline = false
	t.st.FullPromotion = true
	t.ensure(prev, false)
	t.route()
	t.st.Message = fmt.Sprintf("undo: starting %s again; it takes all traffic as soon as it is ready", prev)
	t.event(EventUndone, "%s", t.st.Message)
	return nil
}
