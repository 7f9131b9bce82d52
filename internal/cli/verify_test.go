package cli

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kanaria-dev/kanaria/internal/demoapp"
)

// stickySplitServer stands in for the router in these CLI tests only (flags,
// output and exit codes): it issues a kanaria_id cookie, sends 20 % of keys
// to v2 by a hash, and stamps X-Kanaria-Version. The real router is checked
// by the e2e test.
func stickySplitServer(t *testing.T) string {
	var ids atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := ""
		if c, err := r.Cookie("kanaria_id"); err == nil {
			key = c.Value
		} else {
			key = fmt.Sprint(ids.Add(1))
			http.SetCookie(w, &http.Cookie{Name: "kanaria_id", Value: key})
		}
		h := fnv.New32a()
		h.Write([]byte(key))
		rev := "v1"
		if h.Sum32()%100 < 20 {
			rev = "v2"
		}
		w.Header().Set("X-Kanaria-Version", rev)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runVerifyCmd(args ...string) (stdout, stderr string, err error) {
	root := NewRoot()
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	root.SetArgs(append([]string{"verify"}, args...))
	err = root.Execute()
	return o.String(), e.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestVerifyCommandPasses(t *testing.T) {
	url := stickySplitServer(t)
	out, progress, err := runVerifyCmd("--url", url, "--requests", "1000", "--expect-canary", "20", "--users", "20", "--per-user", "5")
	if err != nil {
		t.Fatalf("err %v\n%s%s", err, progress, out)
	}
	if l := lastLine(out); !strings.HasPrefix(l, "verify: canary v2 ") || !strings.HasSuffix(l, "stickiness 20/20 users stable OK") {
		t.Errorf("last line %q", l)
	}
	if !strings.Contains(progress, "served: v1 ") {
		t.Errorf("progress lacks the per-revision counts:\n%s", progress)
	}
}

func TestVerifyCommandMismatchExitsTwo(t *testing.T) {
	url := stickySplitServer(t)
	out, _, err := runVerifyCmd("--url", url, "--requests", "1000", "--expect-canary", "5", "--users", "5")
	var ec interface{ ExitCode() int }
	if e, ok := err.(interface{ ExitCode() int }); ok {
		ec = e
	}
	if ec == nil || ec.ExitCode() != 2 {
		t.Fatalf("want an error with exit code 2, got %v", err)
	}
	if l := lastLine(out); !strings.Contains(l, "expected 5.00%) FAIL") || err.Error() != l {
		t.Errorf("last line %q, error %q", l, err)
	}
}

func TestVerifyCommandNotARouter(t *testing.T) {
	// The demo app itself stamps no X-Kanaria-Version: verify cannot
	// measure, which is exit status 1, not a mismatch.
	srv := httptest.NewServer(demoapp.Handler(demoapp.Options{Revision: "v1"}))
	defer srv.Close()
	_, _, err := runVerifyCmd("--url", srv.URL, "--requests", "20")
	if err == nil || !strings.Contains(err.Error(), "X-Kanaria-Version") {
		t.Fatalf("want an error naming the header, got %v", err)
	}
	if _, ok := err.(interface{ ExitCode() int }); ok {
		t.Errorf("could-not-measure must not carry exit code 2")
	}
}

func TestVerifyCommandNeedsURL(t *testing.T) {
	if _, _, err := runVerifyCmd("--requests", "10"); err == nil || !strings.Contains(err.Error(), "--url") {
		t.Fatalf("got %v", err)
	}
}
