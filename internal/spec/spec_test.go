package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

const good = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    local:
      command: "app --port {{.Port}} --rev {{.Revision}}"
  strategy:
    canary:
      steps:
        - setWeight: 0.1
        - pause: {duration: 10s}
        - pause: {}
`

// mutate replaces one line of good (1-based) so each case's position is
// obvious from the table.
func mutate(line int, text string) string {
	ls := strings.Split(good, "\n")
	ls[line-1] = text
	return strings.Join(ls, "\n")
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"weight above 100", mutate(13, "        - setWeight: 120"),
			"k.yaml:13:11: rollouts[0].spec.strategy.canary.steps[0].setWeight: 120 is above 100"},
		{"weight below 0", mutate(13, "        - setWeight: -1"),
			"k.yaml:13:22: rollouts[0].spec.strategy.canary.steps[0].setWeight: -1 is below 0%"},
		{"weight finer than ppm", mutate(13, "        - setWeight: 0.00005"),
			"k.yaml:13:22: rollouts[0].spec.strategy.canary.steps[0].setWeight: 0.00005 is finer than one part per million (0.0001%)"},
		{"negative pause", mutate(14, "        - pause: {duration: -5s}"),
			"k.yaml:14:19: rollouts[0].spec.strategy.canary.steps[1].pause.duration: -5s is negative"},
		{"analysis without metrics", mutate(15, "        - analysis: {duration: 1m}"),
			"k.yaml:15:11: rollouts[0].spec.strategy.canary.steps[2].analysis: no metrics: list them here or define spec.analysis.metrics"},
		{"step with two fields", mutate(15, "        - {pause: {}, setWeight: 5}"),
			"k.yaml:15:12: rollouts[0].spec.strategy.canary.steps[2]: a step sets exactly one of setWeight, pause, analysis, setMirror, setHeaderRoute; this one sets 2"},
		{"setMirror bad regex", mutate(15, "        - setMirror: {name: r, percentage: 5, match: [{path: {regex: \"(\"}}]}"),
			"k.yaml:15:63: rollouts[0].spec.strategy.canary.steps[2].setMirror.match[0].path.regex: error parsing regexp"},
		{"setMirror match without percentage", mutate(15, "        - setMirror: {name: r, match: [{method: {exact: GET}}]}"),
			"k.yaml:15:11: rollouts[0].spec.strategy.canary.steps[2].setMirror.percentage: a route with a match needs a percentage"},
		{"null pause is an empty step", mutate(15, "        - pause:"),
			"k.yaml:15:11: rollouts[0].spec.strategy.canary.steps[2]: a step sets exactly one"},
		{"api version", mutate(1, "apiVersion: v1"),
			"k.yaml:1:1: rollouts[0].apiVersion: must be \"kanaria.dev/v1alpha1\", not \"v1\""},
		{"kind", mutate(2, "kind: Deployment"),
			"k.yaml:2:1: rollouts[0].kind: must be \"Rollout\", not \"Deployment\""},
		{"name not a DNS label", mutate(4, "  name: Web_1"),
			"k.yaml:4:3: rollouts[0].metadata.name: \"Web_1\" must be a DNS label"},
		{"missing revision points at spec", mutate(6, "  route: {}"),
			"k.yaml:5:1: rollouts[0].spec.revision: revision is empty"},
		{"bad revision", mutate(6, "  revision: \"v 1\""),
			"k.yaml:6:3: rollouts[0].spec.revision: revision \"v 1\" must be"},
		{"empty command", mutate(9, "      command: \"\""),
			"k.yaml:9:7: rollouts[0].spec.platform.local.command: is required"},
		{"unknown template field", mutate(9, "      command: \"app {{.Revison}}\""),
			"k.yaml:9:7: rollouts[0].spec.platform.local.command: template uses an unknown field"},
		{"broken template", mutate(9, "      command: \"app {{.Port\""),
			"k.yaml:9:7: rollouts[0].spec.platform.local.command: not a valid template"},
		{"two platforms", mutate(8, "    static: {revisions: {v1: [\"http://a\"]}}\n    local:"),
			"k.yaml:7:3: rollouts[0].spec.platform: needs exactly one of local, static, kubernetes, ecs; local and static are set"},
		{"two strategies", mutate(11, "    blueGreen: {}\n    canary:"),
			"k.yaml:10:3: rollouts[0].spec.strategy: needs exactly one of canary, blueGreen; both are set"},
		{"unknown field", mutate(11, "    canary:\n      stepz: []"),
			"k.yaml:12:7: rollouts[0].spec.strategy.canary.stepz: unknown field; did you mean \"steps\"? (fields here: "},
		{"wrong type", mutate(13, "        - setWeight: ten"),
			"k.yaml:13:22: rollouts[0].spec.strategy.canary.steps[0].setWeight: must be a number (percent) such as 10 or 0.1, not the string \"ten\""},
		{"duration without unit", mutate(14, "        - pause: {duration: 10}"),
			"k.yaml:14:29: rollouts[0].spec.strategy.canary.steps[1].pause.duration: duration 10 has no unit (write 10s)"},
		{"syntax error", mutate(3, "metadata: [\n"),
			"k.yaml:3: did not find expected ',' or ']' in the block that starts on this line"},
		{"route host and prefix", mutate(6, "  revision: v1\n  route: {hosts: [\"Shop.example.com:80\"], pathPrefix: api}"),
			"k.yaml:7:19: rollouts[0].spec.route.hosts[0]: \"Shop.example.com:80\" is not a valid host"},
		{"negative grace", mutate(9, "      command: app\n      gracePeriod: -1s"),
			"k.yaml:10:7: rollouts[0].spec.platform.local.gracePeriod: -1s is negative"},
		{"empty file", "# nothing\n", "k.yaml: no Rollout documents"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("k.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.src)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			if !strings.HasPrefix(list[0].Error(), c.want) {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

const static = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: api}
spec:
  revision: v1
  platform:
    static:
      revisions:
        v1: ["http://10.0.0.1:8080"]
        v2: ["10.0.0.2:8080"]
  strategy:
    blueGreen: {scaleDownDelay: -1s}
`

func TestStaticAndBlueGreenErrors(t *testing.T) {
	_, err := Parse("s.yaml", []byte(static))
	want := []string{
		`s.yaml:10:14: rollouts[0].spec.platform.static.revisions.v2[0]: "10.0.0.2:8080" must be an absolute http:// or https:// URL`,
		`s.yaml:12:17: rollouts[0].spec.strategy.blueGreen.scaleDownDelay: -1s is negative`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	src := strings.Replace(static, "        v1:", "        v0:", 1)
	src = strings.Replace(src, `"10.0.0.2:8080"`, `"http://b"`, 1)
	src = strings.Replace(src, "-1s", "5s", 1)
	_, err = Parse("s.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `s.yaml:8:7: rollouts[0].spec.platform.static.revisions: must list spec.revision "v1"`) {
		t.Fatalf("stable revision missing from static: got %v", err)
	}
}

func TestBaselineNeedsLocal(t *testing.T) {
	src := strings.Replace(static, "blueGreen: {scaleDownDelay: -1s}", "canary: {baseline: true, steps: []}", 1)
	src = strings.Replace(src, `"10.0.0.2:8080"`, `"http://b"`, 1)
	_, err := Parse("s.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "rollouts[0].spec.strategy.canary.baseline: needs a platform") {
		t.Fatalf("got %v", err)
	}
}

func TestMultiDocument(t *testing.T) {
	second := strings.Replace(good, "name: web", "name: api", 1)
	// An empty document between two real ones: go-yaml alone would drop
	// the third document silently.
	src := good + "---\n" + "# nothing here\n---\n" + second
	rs, err := Parse("k.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Metadata.Name != "web" || rs[1].Metadata.Name != "api" {
		t.Fatalf("got %+v", rs)
	}
	// Errors in the third document carry its own line numbers and index.
	bad := good + "---\n" + strings.Replace(second, "setWeight: 0.1", "setWeight: 101", 1)
	_, err = Parse("k.yaml", []byte(bad))
	if err == nil || err.Error() != "k.yaml:29:11: rollouts[1].spec.strategy.canary.steps[0].setWeight: 101 is above 100%" {
		t.Fatalf("got %v", err)
	}
	dup := good + "---\n" + good
	_, err = Parse("k.yaml", []byte(dup))
	if err == nil || err.Error() != `k.yaml:20:3: rollouts[1].metadata.name: duplicate name "web" (also rollouts[0])` {
		t.Fatalf("got %v", err)
	}
}

func TestDefaults(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	l := rs[0].Spec.Platform.Local
	if l.Instances != 1 || l.Readiness.Path != "/" || l.Readiness.Interval.D() != 500*time.Millisecond ||
		l.Readiness.Timeout.D() != time.Minute || l.GracePeriod.D() != 10*time.Second || rs[0].Spec.Route.PathPrefix != "/" {
		t.Fatalf("defaults not applied: %+v %+v", l, rs[0].Spec.Route)
	}
	if rs[0].Spec.ScaleDownDelay() != 30*time.Second {
		t.Fatalf("scale down delay %v", rs[0].Spec.ScaleDownDelay())
	}
	steps := rs[0].Spec.Strategy.Canary.Steps
	if *steps[0].SetWeight != 1000 || steps[1].String() != "pause 10s" || !steps[2].IndefinitePause() {
		t.Fatalf("steps %v %v", steps[1], steps[2])
	}
}

func TestExampleLoads(t *testing.T) {
	rs, err := LoadFile("../../examples/kanaria.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || len(rs[0].Spec.Strategy.Canary.Steps) != 8 {
		t.Fatalf("got %+v", rs)
	}
	cmd, err := rs[0].Spec.Platform.Local.RenderCommand(v1alpha1.CommandData{Kanaria: "/bin/kanaria", Revision: "v2", Port: 9001})
	if err != nil || cmd != "/bin/kanaria demo-app --revision v2 --port 9001" {
		t.Fatalf("render %q %v", cmd, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(static))
	f.Add([]byte(good + "---\n---\n" + good))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("f.yaml", data)
		if err == nil && len(rs) == 0 {
			t.Fatal("no error and no rollouts")
		}
	})
}
