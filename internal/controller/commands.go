package controller

import (
	"context"
	"errors"
	"fmt"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/platform"
)

// commands applies what a user wrote into the Rollout since the status was
// last written, each at most once, in this order:
//
//   - spec.revision differing from status.observedRevision starts a release
//     of it (a `kanaria start`, or a GitOps edit). observedRevision is set
//     whatever the engine says, so a revision that was aborted or undone is
//     not started again by the next pass; the retry command starts it again.
//   - the annotation kanaria.dev/command "<verb>/<id>" whose id differs from
//     status.lastCommand; lastCommand is set whatever the engine says.
//   - spec.paused holds a progressing release as a user's pause, and its
//     absence resumes one. It is a state, not an event, so it is applied
//     on every pass it does not hold yet: a promote while spec.paused is
//     true moves one step on and pauses again (as Argo Rollouts' field).
//
// A command the engine refuses is recorded as a Warning Event with the
// engine's reason (a Normal one when it asked for what already holds).
func (p *pass) commands(ctx context.Context) {
	if rev := p.spec.Spec.Revision; rev != p.st.ObservedRevision {
		if p.start(ctx, rev, "spec.revision changed to "+rev) {
			p.st.ObservedRevision = rev
		}
	}
	if v, ok := p.ro.Annotations[kanariav1alpha1.CommandAnnotation]; ok {
		verb, id, err := kanariav1alpha1.ParseCommand(v)
		if id == "" {
			// Malformed beyond an id: the whole value stands for it, so
			// it is reported once, not on every pass.
			id = v
		}
		if id != p.st.LastCommand {
			p.st.LastCommand = id
			if err != nil {
				p.notes = append(p.notes, note{warning: true, reason: "CommandRefused", action: "Command", message: err.Error()})
			} else {
				p.command(ctx, verb)
			}
		}
	}
	switch {
	case p.spec.Spec.Paused && p.st.Phase == v1alpha1.PhaseProgressing:
		p.apply(engine.Command{Kind: engine.CmdPause, Reason: "spec.paused is true"}, "pause")
	case !p.spec.Spec.Paused && p.st.Phase == v1alpha1.PhasePaused && p.st.PausedBy == engine.PausedByUser:
		p.apply(engine.Command{Kind: engine.CmdResume, Reason: "spec.paused is false"}, "resume")
	}
}

// command applies one annotation verb.
func (p *pass) command(ctx context.Context, verb string) {
	reason := "annotation " + kanariav1alpha1.CommandAnnotation
	switch verb {
	case kanariav1alpha1.VerbPromote:
		p.apply(engine.Command{Kind: engine.CmdPromote, Reason: reason}, verb)
	case kanariav1alpha1.VerbPromoteFull:
		p.apply(engine.Command{Kind: engine.CmdPromote, Full: true, Reason: reason}, verb)
	case kanariav1alpha1.VerbAbort:
		p.apply(engine.Command{Kind: engine.CmdAbort, Reason: reason}, verb)
	case kanariav1alpha1.VerbUndo:
		p.apply(engine.Command{Kind: engine.CmdUndo, Reason: reason}, verb)
	case kanariav1alpha1.VerbStop:
		p.apply(engine.Command{Kind: engine.CmdStop, Reason: reason}, verb)
	case kanariav1alpha1.VerbRetry:
		p.start(ctx, p.spec.Spec.Revision, reason+": retry")
	}
}

// start starts a release of rev, after checking that the platform can run
// it (an image template that does not render for it, a revision that is
// not a label value): such a start is refused with nothing created. It
// reports false only when that check could not be made (the API server did
// not answer), so the caller tries again on the next pass.
func (p *pass) start(ctx context.Context, rev, reason string) bool {
	if err := p.pf.Validate(ctx, rev); err != nil {
		var inv *platform.InvalidError
		if !errors.As(err, &inv) {
			p.log.Warn("cannot check the revision to start yet", "revision", rev, "err", err)
			return false
		}
		p.notes = append(p.notes, note{warning: true, reason: "CommandRefused", action: "start",
			message: fmt.Sprintf("cannot start %s: %v", rev, inv)})
		return true
	}
	p.apply(engine.Command{Kind: engine.CmdStart, Revision: rev, Reason: reason}, "start")
	return true
}

// apply runs one command through the engine on the status in the making.
func (p *pass) apply(cmd engine.Command, action string) {
	st, acts, err := engine.Apply(p.spec, p.st, cmd, p.now)
	if err != nil {
		n := note{warning: true, reason: "CommandRefused", action: action, message: fmt.Sprintf("%s: %v", action, err)}
		if engine.IsNoOp(err) {
			n.warning, n.reason = false, "NothingToDo"
		}
		p.notes = append(p.notes, n)
		return
	}
	p.st, p.acts = st, append(p.acts, acts...)
}
