package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goTypeWords are words of Go, not of the file: an error that contains one
// speaks about kanaria's code rather than the user's YAML.
var goTypeWords = regexp.MustCompile(`\b(Go|struct|float64|int64|uint32|v1alpha1|map\[|\[\]string|Unmarshal)`)

// TestDecodeErrorPaths is the contract of every decoding error: the full
// field path, the line and column of the offending key or value, and words a
// reader of the file knows. Each case changes good (the line numbers are
// good's) and expects the whole error list.
func TestDecodeErrorPaths(t *testing.T) {
	steps := "      steps:\n        - setWeight: 0.1\n        - pause: {duration: 10s}\n        - pause: {}\n"
	cases := []struct {
		name, src string
		want      []string
	}{
		{"weight written as a string", mutate(13, `        - setWeight: "10"`), []string{
			`k.yaml:13:22: rollouts[0].spec.strategy.canary.steps[0].setWeight: must be a number (percent) such as 10 or 0.1, not the string "10"`}},
		{"weight in the third step", mutate(15, `        - setWeight: true`), []string{
			`k.yaml:15:22: rollouts[0].spec.strategy.canary.steps[2].setWeight: must be a number (percent) such as 10 or 0.1, not true`}},
		{"weight as a list", mutate(15, `        - {setWeight: [10]}`), []string{
			`k.yaml:15:23: rollouts[0].spec.strategy.canary.steps[2].setWeight: must be a number (percent) such as 10 or 0.1, not a list`}},
		{"misspelt readiness", mutate(9, "      command: app\n      readines: {path: /h}"), []string{
			`k.yaml:10:7: rollouts[0].spec.platform.local.readines: unknown field; did you mean "readiness"? (fields here: command, dir, env, gracePeriod, instances, readiness)`}},
		{"unknown field, nothing close", mutate(6, "  revision: v1\n  colour: blue"), []string{
			`k.yaml:7:3: rollouts[0].spec.colour: unknown field (fields here: analysis, notifications, paused, platform, revision, route, strategy, traffic)`}},
		{"pause without unit", mutate(14, "        - pause: {duration: 30}"), []string{
			`k.yaml:14:29: rollouts[0].spec.strategy.canary.steps[1].pause.duration: duration 30 has no unit (write 30s)`}},
		{"pause of zero needs no unit", mutate(14, "        - pause: {duration: 0}"), nil},
		{"duration as bool", mutate(14, "        - pause: {duration: true}"), []string{
			`k.yaml:14:29: rollouts[0].spec.strategy.canary.steps[1].pause.duration: must be a duration such as "10s", not true`}},
		{"duration text", mutate(14, "        - pause: {duration: soon}"), []string{
			`k.yaml:14:29: rollouts[0].spec.strategy.canary.steps[1].pause.duration: "soon" is not a duration (examples: 500ms, 10s, 1m30s)`}},
		{"readiness interval without unit", mutate(9, "      command: app\n      readiness: {interval: 5}"), []string{
			`k.yaml:10:29: rollouts[0].spec.platform.local.readiness.interval: duration 5 has no unit (write 5s)`}},
		{"instances as text", mutate(9, "      command: app\n      instances: two"), []string{
			`k.yaml:10:18: rollouts[0].spec.platform.local.instances: must be a whole number, not the string "two"`}},
		{"instances as a fraction", mutate(9, "      command: app\n      instances: 1.5"), []string{
			`k.yaml:10:18: rollouts[0].spec.platform.local.instances: must be a whole number, not the number 1.5`}},
		{"instances out of range", mutate(9, "      command: app\n      instances: 99999999999999999999"), []string{
			`k.yaml:10:18: rollouts[0].spec.platform.local.instances: 99999999999999999999 is out of range`}},
		{"env as a list", mutate(9, "      command: app\n      env: [A]"), []string{
			`k.yaml:10:12: rollouts[0].spec.platform.local.env: must be a mapping, not a list`}},
		{"env value as a mapping", mutate(9, "      command: app\n      env: {A: {b: 1}}"), []string{
			`k.yaml:10:16: rollouts[0].spec.platform.local.env.A: must be a string, not a mapping`}},
		{"env numbers are text", mutate(9, "      command: app\n      env: {PORT: 8080, DEBUG: true}"), nil},
		{"steps as a number", strings.Replace(good, steps, "      steps: 5\n", 1), []string{
			`k.yaml:12:14: rollouts[0].spec.strategy.canary.steps: must be a list, not the number 5`}},
		{"step as text", mutate(14, "        - wait"), []string{
			`k.yaml:14:11: rollouts[0].spec.strategy.canary.steps[1]: must be a mapping, not the string "wait"`}},
		{"key twice", mutate(6, "  revision: v1\n  revision: v2"), []string{
			`k.yaml:7:3: rollouts[0].spec.revision: appears twice (first at line 6)`}},
		{"paused as yes", mutate(6, "  revision: v1\n  paused: yes"), []string{
			`k.yaml:7:11: rollouts[0].spec.paused: must be true or false, not the string "yes"`}},
		{"metadata as text", strings.Replace(good, "metadata:\n  name: web", "metadata: web", 1), []string{
			`k.yaml:3:11: rollouts[0].metadata: must be a mapping, not the string "web"`}},
		{"several problems, in file order", mutate(9, "      command: app\n      instances: two\n      readines: {}") + "\n", []string{
			`k.yaml:10:18: rollouts[0].spec.platform.local.instances: must be a whole number, not the string "two"`,
			`k.yaml:11:7: rollouts[0].spec.platform.local.readines: unknown field; did you mean "readiness"? (fields here: command, dir, env, gracePeriod, instances, readiness)`}},
		{"second document", good + "---\n" + strings.Replace(good, "name: web", "name: api", 1) + "  paused: 1\n", []string{
			`k.yaml:32:11: rollouts[1].spec.paused: must be true or false, not the number 1`}},
		{"inline metric", mutate(15, "        - analysis: {duration: 1m, metrics: [{name: e, kind: errorRate, alpha: high}]}"), []string{
			`k.yaml:15:80: rollouts[0].spec.strategy.canary.steps[2].analysis.metrics[0].alpha: must be a number, not the string "high"`}},
		{"weight range with a validation error", mutate(13, "        - setWeight: -1\n        - pause: {duration: -5s}"), []string{
			`k.yaml:13:22: rollouts[0].spec.strategy.canary.steps[0].setWeight: -1 is below 0%`,
			`k.yaml:14:19: rollouts[0].spec.strategy.canary.steps[1].pause.duration: -5s is negative`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("k.yaml", []byte(c.src))
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v (%T), want an ErrorList", err, err)
			}
			if got, want := fieldList(err.Error()), fieldList(strings.Join(c.want, "\n")); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			for _, e := range list {
				if e.Line == 0 || e.Column == 0 || !strings.HasPrefix(e.Path, "rollouts[") {
					t.Errorf("no position or path: %#v", e)
				}
				if goTypeWords.MatchString(e.Message) {
					t.Errorf("message speaks Go: %s", e.Message)
				}
			}
		})
	}
}

// fieldList shortens "(fields here: a, b)" so that a field added to the API
// does not break cases about another; TestUnknownFieldListsFields checks
// the list itself.
func fieldList(s string) string {
	return fieldsHere.ReplaceAllString(s, "(fields here: …)")
}

var fieldsHere = regexp.MustCompile(`\(fields here: [^)]*\)`)

func TestUnknownFieldListsFields(t *testing.T) {
	_, err := Parse("k.yaml", []byte(mutate(9, "      command: app\n      readines: {path: /h}")))
	for _, f := range []string{"command", "env", "instances", "readiness", "gracePeriod"} {
		if err == nil || !regexp.MustCompile(`\(fields here: [^)]*\b`+f+`\b`).MatchString(err.Error()) {
			t.Errorf("%v: want %s among the fields", err, f)
		}
	}
}

func TestNumbersAsWritten(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(mutate(6, "  revision: 1.10")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rs[0].Spec.Revision; got != "1.10" {
		t.Fatalf("revision %q, want the text as written", got)
	}
}

// TestAliasExpansionBounded: a few hundred bytes of anchors and aliases that
// would expand to a million values are refused, not expanded.
func TestAliasExpansionBounded(t *testing.T) {
	metric := "{name: e, kind: errorRate}"
	step := fmt.Sprintf("&s {analysis: {duration: 1m, metrics: [&m %s%s]}}", metric, strings.Repeat(", *m", 999))
	src := strings.Replace(good, "      steps:\n        - setWeight: 0.1\n        - pause: {duration: 10s}\n        - pause: {}\n",
		fmt.Sprintf("      steps: [%s%s]\n", step, strings.Repeat(", *s", 999)), 1)
	_, err := Parse("k.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more values than the file holds") {
		t.Fatalf("%d bytes: got %v", len(src), err)
	}
}

func TestFileSizeLimit(t *testing.T) {
	big := append([]byte(good), make([]byte, MaxFileSize)...)
	_, err := Parse("k.yaml", big)
	want := "k.yaml: the file is 4.0 MiB; kanaria reads spec files up to 4 MiB"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: got %v, want %s", err, want)
	}
	f := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(f, big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(f)
	if err == nil || !strings.HasSuffix(err.Error(), ": the file is 4.0 MiB; kanaria reads spec files up to 4 MiB") {
		t.Fatalf("LoadFile: got %v", err)
	}
}
