package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kanariav1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Request is a command written to a Rollout for the controller to carry out.
type Request struct {
	// View is the Rollout as the patch left it: its status is still the
	// controller's last. With nothing written, View.Note says why (the
	// command was already in effect).
	View wire.RolloutView
	// Patch is what was written, as a kubectl user would read it, such as
	// "spec.revision=v2" or "kanaria.dev/command=promote/1764630000-3f2a9c1b";
	// empty when nothing was.
	Patch string

	// What Wait waits for: the controller's status.lastCommand = id, or
	// (spec changes) its status.observedGeneration reaching generation.
	id         string
	generation int64
}

// conflictAttempts bounds the read-patch rounds when someone else changes
// the Rollout between the read and the patch.
const conflictAttempts = 5

// Do writes cmd's patch (server.Backend): see Request. The reason of a
// command is not recorded: the patches have no field for it.
func (b *Backend) Do(ctx context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	req, err := b.Request(ctx, name, cmd)
	return req.View, err
}

// Request writes the patch that asks the controller for cmd (start:
// spec.revision; pause, resume: spec.paused; promote, promote --full, abort,
// undo, stop, and a start of the revision spec.revision already holds
// (retry): the kanaria.dev/command annotation with a new id).
//
// When the controller has acted on everything the Rollout asks (its status
// observed the spec's generation and revision and the last command), the
// command's outcome is known before anything is written, from the same
// engine the controller runs on the same status: a command already in
// effect writes nothing and says so in View.Note; one that does not apply
// now is a *wire.ConflictError, as on one machine. While the controller is
// behind, the patch is written and the controller decides, except that a
// command annotation it has not applied yet is never overwritten (that
// command would be lost): that is a *wire.ConflictError too.
//
// The patch carries the resourceVersion that was read, so it applies to the
// Rollout as judged or not at all; on a conflict Request reads again.
func (b *Backend) Request(ctx context.Context, name string, cmd engine.Command) (Request, error) {
	for range conflictAttempts {
		ro, err := b.get(ctx, b.c, name)
		if err != nil {
			return Request{}, err
		}
		req, patch, err := b.plan(ro, cmd)
		if err != nil || patch == nil {
			return req, err
		}
		err = b.c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, patch))
		switch {
		case apierrors.IsConflict(err):
			continue // changed since read: judge it again
		case apierrors.IsNotFound(err):
			return Request{}, &notFoundError{name: name, ns: b.ns}
		case err != nil:
			return Request{}, fmt.Errorf("patching Rollout %s/%s (%s): %w", b.ns, name, req.Patch, err)
		}
		req.View = View(ro) // Patch left the stored object in ro
		req.generation = ro.Generation
		return req, nil
	}
	return Request{}, fmt.Errorf("rollout %s: changed by someone else %d times while writing %s; try again", name, conflictAttempts, cmd.Kind)
}

// plan decides what cmd writes to ro: the request and its JSON merge patch,
// or no patch with the reason in the request or the error.
func (b *Backend) plan(ro *kanariav1alpha1.Rollout, cmd engine.Command) (Request, []byte, error) {
	name := ro.Name
	view := View(ro)
	if ro.Status.Phase == "" {
		if c := invalid(ro); c != nil {
			return Request{View: view}, nil, &wire.ConflictError{Reason: fmt.Sprintf(
				"rollout %s is invalid (%s): %s; the controller starts it once that is fixed", name, c.Reason, c.Message)}
		}
		return Request{View: view}, nil, &wire.ConflictError{Reason: fmt.Sprintf(
			"rollout %s has no status yet: the controller has not seen it (is kanaria controller running?)", name)}
	}
	spec := map[string]any{}
	meta := map[string]any{"resourceVersion": ro.ResourceVersion}
	req := Request{View: view}
	changes := true
	switch {
	case cmd.Kind == engine.CmdStart && !retry(ro, cmd.Revision):
		spec["revision"] = cmd.Revision
		req.Patch = "spec.revision=" + cmd.Revision
		changes = ro.Spec.Revision != cmd.Revision
	case cmd.Kind == engine.CmdPause || cmd.Kind == engine.CmdResume:
		paused := cmd.Kind == engine.CmdPause
		spec["paused"] = paused
		req.Patch = fmt.Sprintf("spec.paused=%t", paused)
		changes = ro.Spec.Paused != paused
	default:
		verb, ok := verbs[cmd.Kind] // a start here is a retry
		if !ok {
			return req, nil, &wire.ConflictError{Reason: fmt.Sprintf("unknown command %q", cmd.Kind)}
		}
		if cmd.Kind == engine.CmdPromote && cmd.Full {
			verb = kanariav1alpha1.VerbPromoteFull
		}
		if pending := pendingCommand(ro); pending != "" {
			return req, nil, &wire.ConflictError{Reason: fmt.Sprintf(
				"rollout %s: %s=%s is not applied yet; the controller applies one command at a time (is kanaria controller running?)",
				name, kanariav1alpha1.CommandAnnotation, pending)}
		}
		req.id = newCommandID(b.now())
		value := kanariav1alpha1.FormatCommand(verb, req.id)
		meta["annotations"] = map[string]any{kanariav1alpha1.CommandAnnotation: value}
		req.Patch = kanariav1alpha1.CommandAnnotation + "=" + value
	}

	switch {
	case settled(ro):
		_, _, err := engine.Apply(engineRollout(ro), ro.Status, cmd, b.now())
		if err != nil {
			req.View, err = wire.CommandOutcome(name, view, err)
			req.Patch = ""
			return req, nil, err
		}
		if !changes {
			// The engine would act, but the field already holds the value,
			// so the controller would see no change (spec.paused=true
			// written while a promote moved the release on).
			return Request{View: view}, nil, &wire.ConflictError{Reason: fmt.Sprintf(
				"rollout %s: %s is written already, and the controller acts only when it changes (%s: %s)",
				name, req.Patch, ro.Status.Phase, ro.Status.Message)}
		}
	case !changes:
		req.View.Note = fmt.Sprintf("%s is already written; the controller has not acted on it yet", req.Patch)
		req.Patch = ""
		return req, nil, nil
	}
	body := map[string]any{"metadata": meta}
	if len(spec) > 0 {
		body["spec"] = spec
	}
	patch, err := json.Marshal(body)
	return req, patch, err
}

// verbs are the commands written as the kanaria.dev/command annotation.
var verbs = map[engine.CommandKind]string{
	engine.CmdStart:   kanariav1alpha1.VerbRetry,
	engine.CmdPromote: kanariav1alpha1.VerbPromote,
	engine.CmdAbort:   kanariav1alpha1.VerbAbort,
	engine.CmdUndo:    kanariav1alpha1.VerbUndo,
	engine.CmdStop:    kanariav1alpha1.VerbStop,
}

// retry reports whether starting rev is starting again the revision the
// controller already took from spec.revision (after its release was
// aborted): spec.revision would not change, so it is the retry command.
func retry(ro *kanariav1alpha1.Rollout, rev string) bool {
	return ro.Spec.Revision == rev && ro.Status.ObservedRevision == rev
}

// settled reports whether the controller has acted on everything ro asks
// for, so its status is the state a command applies to. An invalid Rollout
// is not: the controller acts on nothing until it is fixed, and a command
// written meanwhile (a start of a revision that renders, say) may be what
// fixes it.
func settled(ro *kanariav1alpha1.Rollout) bool {
	st := ro.Status
	return st.Phase != "" &&
		st.ObservedGeneration >= ro.Generation &&
		st.ObservedRevision == ro.Spec.Revision &&
		pendingCommand(ro) == "" &&
		invalid(ro) == nil
}

// invalid is the Rollout's Invalid condition when it is True: the
// controller found the spec or its target unusable.
func invalid(ro *kanariav1alpha1.Rollout) *v1alpha1.Condition {
	for i, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.ConditionInvalid && c.Status == v1alpha1.ConditionTrue {
			return &ro.Status.Conditions[i]
		}
	}
	return nil
}

// pendingCommand is the command annotation's value while the controller has
// not applied it (its id is not status.lastCommand), else "". An annotation
// the controller cannot parse is not pending: it is refused with an Event,
// and a new command replaces it.
func pendingCommand(ro *kanariav1alpha1.Rollout) string {
	value, ok := ro.Annotations[kanariav1alpha1.CommandAnnotation]
	if !ok {
		return ""
	}
	_, id, err := kanariav1alpha1.ParseCommand(value)
	if err != nil || id == ro.Status.LastCommand {
		return ""
	}
	return value
}

// newCommandID is a command id no other command has: the time in seconds,
// which keeps ids in the order they were written for a person reading them,
// and random bits against two commands in one second.
func newCommandID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%d-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// ErrNotAcknowledged is Wait's error when the controller did not act on a
// request in time.
var ErrNotAcknowledged = errors.New("the controller has not acted on it yet (is kanaria controller running?)")

// Wait polls every interval until the controller has acted on req, and
// returns the Rollout as it left it; after timeout, the last Rollout read
// and an error wrapping ErrNotAcknowledged. A request that wrote nothing
// returns at once. (The timeout is not ctx's deadline: a client's rate
// limiter refuses a read that could not finish before a deadline, and
// that is no failure of the read.)
func (b *Backend) Wait(ctx context.Context, name string, req Request, interval, timeout time.Duration) (wire.RolloutView, error) {
	if req.Patch == "" {
		return req.View, nil
	}
	last := req.View
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ro, err := b.get(ctx, b.r, name)
		switch {
		case err != nil && ctx.Err() == nil:
			return last, err
		case err == nil:
			last = View(ro)
			if acknowledged(ro, req) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-deadline.C:
			return last, fmt.Errorf("rollout %s: %s: %w", name, req.Patch, ErrNotAcknowledged)
		case <-tick.C:
		}
	}
}

// acknowledged reports whether the controller has acted on req: it recorded
// the command's id, or observed the generation the spec patch made.
func acknowledged(ro *kanariav1alpha1.Rollout, req Request) bool {
	if req.id != "" {
		return ro.Status.LastCommand == req.id
	}
	return ro.Status.ObservedGeneration >= req.generation
}
