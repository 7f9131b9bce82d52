package spec

import (
	"errors"
	"strings"
	"testing"
)

// headerRouteSpec is good with its steps replaced by step (indented as a
// list item under steps, line 13 on).
func headerRouteSpec(steps string) string {
	return strings.Replace(good, "        - setWeight: 0.1\n        - pause: {duration: 10s}\n        - pause: {}\n", steps, 1)
}

func TestHeaderRouteAccepted(t *testing.T) {
	rs, err := Parse("k.yaml", []byte(headerRouteSpec(`        - setHeaderRoute:
            name: beta
            match:
              - {headerName: X-Beta, headerValue: {exact: "1"}}
              - {headerName: X-Tier, headerValue: {regex: "^gold-[0-9]+$"}}
        - setWeight: 1
        - setHeaderRoute: {name: beta}
`)))
	if err != nil {
		t.Fatal(err)
	}
	steps := rs[0].Spec.Strategy.Canary.Steps
	h := steps[0].SetHeaderRoute
	if h == nil || h.Name != "beta" || len(h.Match) != 2 || h.Match[1].HeaderValue.Regex != "^gold-[0-9]+$" {
		t.Fatalf("step 0: %+v", steps[0])
	}
	if got := steps[0].String(); got != `setHeaderRoute beta (X-Beta exact "1", X-Tier regex "^gold-[0-9]+$")` {
		t.Errorf("String: %s", got)
	}
	if got := steps[2].String(); got != "setHeaderRoute beta removed" || steps[2].Kind() != "setHeaderRoute" {
		t.Errorf("removal step: %s", got)
	}
}

func TestHeaderRouteErrors(t *testing.T) {
	const at = "rollouts[0].spec.strategy.canary.steps[0].setHeaderRoute"
	cases := []struct{ name, steps, want string }{
		{"bad regex", `        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {regex: "a(b"}}]}
`, `k.yaml:13:83: ` + at + `.match[0].headerValue.regex: "a(b" is not a valid regular expression: missing closing ): ` + "`a(b`"},
		{"two values", `        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: a, prefix: b}}]}
`, `k.yaml:13:69: ` + at + `.match[0].headerValue: needs exactly one of exact, prefix, regex; 2 are set`},
		{"no value", `        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {}}]}
`, `k.yaml:13:69: ` + at + `.match[0].headerValue: needs exactly one of exact, prefix, regex (not empty); none is set`},
		{"no name", `        - setHeaderRoute: {match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
`, `k.yaml:13:11: ` + at + `.name: is required`},
		{"bad header name", `        - setHeaderRoute: {name: beta, match: [{headerName: "X Beta", headerValue: {exact: "1"}}]}
`, `k.yaml:13:49: ` + at + `.match[0].headerName: "X Beta" is not a valid header name`},
		{"same header twice", `        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}, {headerName: x-beta, headerValue: {prefix: "2"}}]}
`, `k.yaml:13:98: ` + at + `.match[1].headerName: "x-beta" is already matched by match[0]`},
		{"with another step", `        - {setHeaderRoute: {name: beta}, setWeight: 5}
`, `k.yaml:13:12: rollouts[0].spec.strategy.canary.steps[0]: a step sets exactly one of setWeight, pause, analysis, setMirror, setHeaderRoute; this one sets 2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("k.yaml", []byte(headerRouteSpec(c.steps)))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v is %T, want ErrorList", err, err)
			}
			if !strings.HasPrefix(list[0].Error(), c.want) {
				t.Errorf("got  %s\nwant %s", list[0].Error(), c.want)
			}
		})
	}
}

// The replicas provider sets a pod ratio and cannot look at a request:
// a setHeaderRoute with it is refused at the step, naming the provider.
func TestHeaderRouteRefusedWithReplicas(t *testing.T) {
	src := `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  revision: v1
  platform:
    kubernetes:
      workloadRef: {name: web}
      containers: [{name: web, image: "web:{{.Revision}}"}]
  traffic: {replicas: {}}
  strategy:
    canary:
      steps:
        - setHeaderRoute: {name: beta, match: [{headerName: X-Beta, headerValue: {exact: "1"}}]}
`
	_, err := Parse("k.yaml", []byte(src))
	want := "k.yaml:14:11: rollouts[0].spec.strategy.canary.steps[0].setHeaderRoute: needs a traffic provider that routes by header: spec.traffic.replicas"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestHeaderRouteTooManyHeaders(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= MaxHeaderRouteHeaders; i++ {
		b.WriteString("        - setHeaderRoute: {name: r" + string(rune('a'+i)) + ", match: [{headerName: X-H" + string(rune('a'+i)) + ", headerValue: {exact: \"1\"}}]}\n")
	}
	_, err := Parse("k.yaml", []byte(headerRouteSpec(b.String())))
	if err == nil || !strings.Contains(err.Error(), "steps[16].setHeaderRoute: brings the header names the steps match on to 17; at most 16") {
		t.Fatalf("got %v", err)
	}
}
