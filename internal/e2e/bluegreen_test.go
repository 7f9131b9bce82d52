package e2e

import (
	"strings"
	"testing"
)

// TestBlueGreenEndToEnd: green starts beside blue at 0 %, is previewed with
// the override header, promote switches everything at once, and undo
// switches back instantly to the still-warm blue.
func TestBlueGreenEndToEnd(t *testing.T) {
	e := newEnv(t, specWithStrategy("    blueGreen:\n      scaleDownDelay: 1m"))
	e.startUp()
	e.waitFor("blue healthy", func(s status) bool { return s.Status.Phase == "Healthy" && e.serves("v1") })

	e.must("start", "v2")
	e.waitFor("green ready, waiting for promotion", func(s status) bool { return s.Status.Phase == "Paused" })
	for i := 0; i < 50; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v1" {
			t.Fatalf("before the switch request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
	if resp, body := e.get("X-Kanaria-Override", "canary"); resp.Header.Get("X-Kanaria-Version") != "v2" || !strings.Contains(body, "v2") {
		t.Fatalf("preview through the override header served %q", resp.Header.Get("X-Kanaria-Version"))
	}

	e.must("promote")
	e.waitFor("switched to green", func(s status) bool { return s.Status.Phase == "Healthy" && s.Status.StableRevision == "v2" })
	for i := 0; i < 50; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v2" {
			t.Fatalf("after the switch request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}

	// Blue is still warm: undo is one switch, with no process to start.
	e.must("undo")
	s := e.status()
	if s.Status.StableRevision != "v1" {
		t.Fatalf("undo did not make blue stable at once: %+v", s.Status)
	}
	for i := 0; i < 50; i++ {
		if resp, _ := e.get(); resp.Header.Get("X-Kanaria-Version") != "v1" {
			t.Fatalf("after undo request %d was served by %q", i, resp.Header.Get("X-Kanaria-Version"))
		}
	}
	if out := e.must("logs", "--revision", "v1", "--tail", "20"); strings.TrimSpace(out) == "" {
		t.Errorf("kanaria logs --revision v1 printed nothing")
	}
}
