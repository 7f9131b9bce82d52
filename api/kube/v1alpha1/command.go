package v1alpha1

import (
	"fmt"
	"strings"
)

// CommandAnnotation on a Rollout asks `kanaria controller` for a one-shot
// command: "<verb>/<id>", such as "promote/1733094000-3f2a". The controller
// applies it once, when id differs from status.lastCommand, and records id
// there with the status it writes, so a restarted controller never applies
// it twice. A new command needs a new id. `kanaria promote` (and abort,
// undo, stop) write it against a cluster; a kubectl user may too:
//
//	kubectl annotate rollout web --overwrite kanaria.dev/command=promote/$(date +%s)
const CommandAnnotation = "kanaria.dev/command"

// Verbs of CommandAnnotation. Start, pause and resume are not among them:
// they are spec.revision and spec.paused, which hold a state rather than
// ask for a step.
const (
	VerbPromote     = "promote"      // past the current step (a pause, blue/green's switch)
	VerbPromoteFull = "promote-full" // straight to 100 %
	VerbAbort       = "abort"        // canary to 0 % first, then removed; phase Aborted
	VerbUndo        = "undo"         // the previous stable revision back
	VerbStop        = "stop"         // end the release: stable 100 %, canary removed, phase Healthy
	// VerbRetry starts spec.revision again after its release was aborted
	// (Argo Rollouts' retry): spec.revision has not changed, so nothing
	// else would.
	VerbRetry = "retry"
)

// Verbs lists every verb CommandAnnotation accepts.
var Verbs = []string{VerbPromote, VerbPromoteFull, VerbAbort, VerbUndo, VerbStop, VerbRetry}

// FormatCommand is CommandAnnotation's value for verb with id.
func FormatCommand(verb, id string) string { return verb + "/" + id }

// ParseCommand reads CommandAnnotation's value. The id is whatever follows
// the first "/" and must not be empty; the verb must be one of Verbs.
func ParseCommand(value string) (verb, id string, err error) {
	verb, id, ok := strings.Cut(strings.TrimSpace(value), "/")
	switch {
	case !ok || id == "":
		return "", "", fmt.Errorf("annotation %s=%q: want <verb>/<id>, such as promote/1", CommandAnnotation, value)
	case !isVerb(verb):
		return "", id, fmt.Errorf("annotation %s=%q: unknown verb %q (want one of %s)", CommandAnnotation, value, verb, strings.Join(Verbs, ", "))
	}
	return verb, id, nil
}

func isVerb(v string) bool {
	for _, k := range Verbs {
		if k == v {
			return true
		}
	}
	return false
}
