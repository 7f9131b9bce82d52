package cli

import (
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestLoggerLines(t *testing.T) {
	var b strings.Builder
	log := newLogger(&b, "dataplane: ")
	log.Info("serving", "pid", 42, "router", "http://127.0.0.1:8080")
	log.With("rollout", "web").Warn("start failed", "err", errors.New("no such file"), slog.Group("g", "n", 1))
	log.WithGroup("req").Info("done", "status", 200, "note", "")
	log.Debug("not shown")
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		`dataplane: serving pid=42 router=http://127.0.0.1:8080`,
		`dataplane: WARN start failed rollout=web err="no such file" g.n=1`,
		`dataplane: done req.status=200 req.note=""`,
	}
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%s", b.String())
	}
	stamp := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d `)
	for i, l := range lines {
		if !stamp.MatchString(l) || l[13:] != want[i] {
			t.Errorf("line %d = %q, want HH:MM:SS.mmm %s", i, l, want[i])
		}
	}
}
