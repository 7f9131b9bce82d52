package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "app --port 8080", want: []string{"app", "--port", "8080"}},
		{in: "  app\t-x  \n y ", want: []string{"app", "-x", "y"}},
		{in: `app 'a b' "c d"`, want: []string{"app", "a b", "c d"}},
		{in: `app ''`, want: []string{"app", ""}},
		{in: `app a'b c'd`, want: []string{"app", "ab cd"}},
		{in: `app "say \"hi\" \n $HOME"`, want: []string{"app", `say "hi" \n $HOME`}},
		{in: `app 'no \escape'`, want: []string{"app", `no \escape`}},
		{in: `app a\ b`, want: []string{"app", "a b"}},
		{in: "app \\\n --flag", want: []string{"app", "--flag"}},
		{in: "app; rm -rf / | cat > x", want: []string{"app;", "rm", "-rf", "/", "|", "cat", ">", "x"}},
		{in: `app "open`, err: "unterminated"},
		{in: `app 'open`, err: "unterminated"},
		{in: `app \`, err: "backslash"},
		{in: "", err: "empty"},
	}
	for _, c := range cases {
		got, err := splitArgs(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestTailLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	var b strings.Builder
	for i := range 5000 { // ~60 KiB: more than one read block
		fmt.Fprintf(&b, "line %05d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := tailLines(path, 3)
	if err != nil || strings.Join(got, ",") != "line 04997,line 04998,line 04999" {
		t.Fatalf("tail 3 = %q, %v", got, err)
	}
	got, _ = tailLines(path, 4000)
	if len(got) != 4000 || got[0] != "line 01000" {
		t.Fatalf("tail 4000: %d lines, first %q", len(got), got[0])
	}
	got, _ = tailLines(path, 10000)
	if len(got) != 5000 || got[0] != "line 00000" {
		t.Fatalf("tail 10000: %d lines, first %q", len(got), got[0])
	}
	empty := filepath.Join(t.TempDir(), "empty.log")
	os.WriteFile(empty, nil, 0o644)
	if got, err := tailLines(empty, 5); err != nil || len(got) != 0 {
		t.Fatalf("empty file: %q, %v", got, err)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"v2":              "v2",
		"v2+baseline":     "v2+baseline",
		"registry/app:v2": "registry_app_v2",
		"../etc":          "_.._etc",
		"":                "_",
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
