package binary

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestKanariaBuiltOnce: the binary runs, and a second call returns the same
// file without building again (its modification time is unchanged).
func TestKanariaBuiltOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kanaria binary")
	}
	p := Kanaria(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kanaria") {
		t.Fatalf("kanaria version: %v\n%s", err, out)
	}
	if q := Kanaria(t); q != p {
		t.Fatalf("second call: %s, want %s", q, p)
	}
	st2, err := os.Stat(p)
	if err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatalf("rebuilt: %v %v", st.ModTime(), st2)
	}
	if !Race() && KanariaAsTest(t) != p {
		t.Fatal("without -race KanariaAsTest is the plain binary")
	}
}
