package verify

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeRouter is a stand-in for kanaria's router in tests of the verify
// statistics only: it follows the router's contract (issues a "kanaria_id"
// cookie to cookie-less requests, assigns the canary by a hash of the key,
// stamps X-Kanaria-Version), nothing more. The real router is checked end to
// end, verify included, by the lead engineer's e2e test.
type fakeRouter struct {
	stable, canary string
	canaryPPM      uint32
	// sticky false ignores the cookie and draws a revision per request: a
	// router that is broken in exactly the way stickiness must catch.
	sticky bool
	// noHeader omits the version header, like a URL that is not the router.
	noHeader bool

	ids        atomic.Int64 // deterministic ids, so shares do not flake
	withCookie atomic.Int64 // requests that carried the sticky cookie
	mu         sync.Mutex
	rng        *rand.Rand
}

func (f *fakeRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := ""
	if c, err := r.Cookie("kanaria_id"); err == nil {
		key = c.Value
		f.withCookie.Add(1)
	} else {
		key = fmt.Sprintf("user-%d", f.ids.Add(1))
		http.SetCookie(w, &http.Cookie{Name: "kanaria_id", Value: key, Path: "/"})
	}
	var bucket uint32
	if f.sticky {
		h := fnv.New64a()
		h.Write([]byte("salt\x00" + key))
		bucket = uint32(h.Sum64() % 1_000_000)
	} else {
		f.mu.Lock()
		bucket = f.rng.Uint32N(1_000_000)
		f.mu.Unlock()
	}
	rev := f.stable
	if bucket < f.canaryPPM {
		rev = f.canary
	}
	if !f.noHeader {
		w.Header().Set("X-Kanaria-Version", rev)
	}
	fmt.Fprintf(w, "hello from %s\n", rev)
}

// startFakeRouter serves f on 127.0.0.1 for the test's lifetime.
func startFakeRouter(t *testing.T, f *fakeRouter) string {
	t.Helper()
	if f.rng == nil {
		f.rng = rand.New(rand.NewPCG(1, 2))
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}
