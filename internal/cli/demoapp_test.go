package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseErrorRateFor(t *testing.T) {
	m, err := parseErrorRateFor([]string{"v3=0.5", "v4=0"})
	if err != nil || m["v3"] != 0.5 || m["v4"] != 0 || len(m) != 2 {
		t.Fatalf("got %v, %v", m, err)
	}
	for _, bad := range []string{"v3", "=0.5", "v3=x", "v3=1.5", "v3=-0.1"} {
		if _, err := parseErrorRateFor([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDemoAppCommandServesAndStops runs the real command on a free loopback
// port, checks the per-revision error override took effect, and stops it by
// cancelling its context (what SIGTERM does in a real process).
func TestDemoAppCommandServesAndStops(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "addr")
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"demo-app", "--revision", "v3", "--port", "0", "--error-rate-for", "v3=1",
		"--error-rate-for", "v2=0", "--ready-file", ready})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	var addr string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil {
			addr = strings.TrimSpace(string(b))
			break
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("demo-app never became ready: %v", <-done)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("X-Demo-Revision") != "v3" {
		t.Errorf("got %d from %q, want 500 from v3 (override v3=1)", resp.StatusCode, resp.Header.Get("X-Demo-Revision"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo-app exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo-app did not stop after cancel")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("output %q lacks the stop message", out.String())
	}
}

func TestDemoAppCommandRequiresRevisionAndPort(t *testing.T) {
	for _, args := range [][]string{{"demo-app", "--port", "0"}, {"demo-app", "--revision", "v1"}} {
		root := NewRoot()
		root.SetOut(io.Discard)
		root.SetArgs(args)
		if err := root.Execute(); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
