package v1alpha1

import (
	"strings"
	"testing"
)

// TestParseCommand: what the CLI writes is what the controller reads, and
// a malformed annotation is an error that names it (the controller reports
// it and marks the id handled rather than guessing).
func TestParseCommand(t *testing.T) {
	for _, verb := range Verbs {
		v, id, err := ParseCommand(FormatCommand(verb, "17-a/b"))
		if err != nil || v != verb || id != "17-a/b" {
			t.Errorf("%s: got %q %q %v", verb, v, id, err)
		}
	}
	for in, want := range map[string]string{
		"promote":   "want <verb>/<id>",
		"promote/":  "want <verb>/<id>",
		"":          "want <verb>/<id>",
		"pause/3":   `unknown verb "pause"`,
		"Promote/3": `unknown verb "Promote"`,
		"/3":        `unknown verb ""`,
	} {
		_, _, err := ParseCommand(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), CommandAnnotation) {
			t.Errorf("%q: error %v, want one containing %q and the annotation's name", in, err, want)
		}
	}
	// An unknown verb still yields its id, so the controller can mark it
	// handled and not report it again on every reconcile.
	if _, id, _ := ParseCommand("pause/9"); id != "9" {
		t.Errorf("id of an unknown verb: %q", id)
	}
}
