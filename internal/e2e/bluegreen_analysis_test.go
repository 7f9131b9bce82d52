package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// metricValues is a web metric endpoint on loopback: GET /<revision>
// answers {"v": value} with the value the test set for that revision.
type metricValues struct {
	mu sync.Mutex
	v  map[string]float64
}

func (m *metricValues) set(rev string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v[rev] = v
}

func (m *metricValues) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	v := m.v[strings.TrimPrefix(r.URL.Path, "/")]
	m.mu.Unlock()
	fmt.Fprintf(w, `{"v": %g}`, v)
}

const blueGreenAnalysisStrategy = `    blueGreen:
      autoPromotion: true
      scaleDownDelay: 1m
      prePromotionAnalysis: {duration: 1s}
      postPromotionAnalysis: {duration: 20s}`

// TestBlueGreenAnalysisEndToEnd: blue/green with Argo Rollouts' analyses
// against a real web metric. A green that passes both is switched to and
// becomes stable; one whose pre-promotion analysis fails is never switched
// to; one whose post-promotion analysis fails after the switch is switched
// back to the still-warm blue in one swap, also after a kill -9 of the
// control plane in the middle of that analysis.
func TestBlueGreenAnalysisEndToEnd(t *testing.T) {
	mv := &metricValues{v: map[string]float64{}}
	srv := httptest.NewServer(mv)
	defer srv.Close()
	spec := specWithStrategy(blueGreenAnalysisStrategy)
	spec = strings.Replace(spec, "  strategy:\n", `  analysis:
    metrics:
      - name: errors
        kind: threshold
        condition: "result < 1"
        interval: 200ms
        provider: {web: {url: "`+srv.URL+`/{{.Revision}}", jsonPath: "$.v"}}
  strategy:
`, 1)
	e := newEnv(t, spec)
	e.startUp()
	e.waitFor("blue healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })

	// v2 passes both analyses.
	e.must("start", "v2")
	e.waitFor("v2 stable", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })
	if !inOrder(e.eventTypes(), "AnalysisPassed: pre-promotion analysis of v2", "Switched: switched all traffic to v2, v1 kept warm",
		"AnalysisPassed: post-promotion analysis of v2", "Finished: v2 is the stable revision") {
		t.Fatalf("v2's release:\n%s", strings.Join(e.eventTypes(), "\n"))
	}
	if !e.serves("v2") {
		t.Fatal("v2 is stable but does not serve")
	}

	// v3 fails before the switch: blue (v2) never stops serving it all.
	mv.set("v3", 5)
	e.must("start", "v3")
	e.waitFor("v3 aborted", func(s status) bool { return s.Status.Phase == "Aborted" })
	evs := e.eventTypes()
	if !inOrder(evs, "Started: blue/green release of v3", "AnalysisFailed: pre-promotion analysis of v3: Fail", "Aborted: release of v3 aborted before the switch") ||
		inOrder(evs, "Started: blue/green release of v3", "Switched: switched all traffic to v3") {
		t.Fatalf("v3's release:\n%s", strings.Join(evs, "\n"))
	}
	for i := 0; i < 20; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("after v3's failed pre-promotion analysis request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}

	// v4 passes before the switch and fails after it: back to v2 at once.
	e.must("start", "v4")
	e.waitFor("switched to v4, post-promotion analysis judging", func(s status) bool {
		return s.Status.Phase == "Progressing" && s.Status.StepIndex == 2 && s.Status.Weights.CanaryPPM == 1_000_000
	})
	for i := 0; i < 20; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v4" {
			t.Fatalf("after the switch request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
	if s := e.status(); s.Status.StableRevision != "v2" {
		t.Fatalf("during the post-promotion analysis the stable revision is %q, want v2 (kept until the analysis passes)", s.Status.StableRevision)
	}
	// kill -9 of the control plane in the middle of it: users stay on
	// green, and the restarted control plane is still judging, blue warm.
	e.stopUp(syscall.SIGKILL)
	for i := 0; i < 20; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v4" {
			t.Fatalf("with the control plane down request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
	e.startUp()
	if s := e.status(); s.Status.Phase != "Progressing" || s.Status.StepIndex != 2 || s.Status.StableRevision != "v2" || s.Status.Weights.CanaryPPM != 1_000_000 {
		t.Fatalf("after kill -9 mid post-promotion analysis: %+v", s.Status)
	}
	mv.set("v4", 5)
	s := e.waitFor("v4 aborted", func(s status) bool { return s.Status.Phase == "Aborted" })
	if s.Status.StableRevision != "v2" || s.Status.Weights.CanaryPPM != 0 {
		t.Fatalf("after the post-promotion Fail: %+v", s.Status)
	}
	// Blue was warm: the very next requests are v2's, nothing to start.
	for i := 0; i < 20; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("after v4's failed post-promotion analysis request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
	if evs := e.eventTypes(); !inOrder(evs, "Switched: switched all traffic to v4", "AnalysisFailed: post-promotion analysis of v4: Fail",
		"Aborted: release of v4 aborted after the switch, back to blue in one swap") {
		t.Fatalf("v4's release:\n%s", strings.Join(evs, "\n"))
	}
}

// inOrder reports whether lines has entries starting with each prefix, in
// that order (others may come between).
func inOrder(lines []string, prefixes ...string) bool {
	i := 0
	for _, l := range lines {
		if i < len(prefixes) && strings.HasPrefix(l, prefixes[i]) {
			i++
		}
	}
	return i == len(prefixes)
}
