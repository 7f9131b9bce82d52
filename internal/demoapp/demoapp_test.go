package demoapp

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, string(b)
}

func TestIndexShowsRevision(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Revision: "v7"}))
	defer srv.Close()
	resp, body := get(t, srv.Client(), srv.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get(RevisionHeader); got != "v7" {
		t.Errorf("%s = %q, want v7", RevisionHeader, got)
	}
	if !strings.Contains(body, "hello from v7") {
		t.Errorf("body %q lacks revision", body)
	}
}

func TestIndexEchoesRoutingDecision(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Revision: "v2"}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("X-Kanaria-Version", "<canary>")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "routed by kanaria as &lt;canary&gt;") {
		t.Errorf("body %q does not echo the escaped routing header", b)
	}
}

func TestHealthzAlways200(t *testing.T) {
	// ErrorRate 1 and a long latency must not touch the health check.
	srv := httptest.NewServer(Handler(Options{Revision: "bad", ErrorRate: 1, Latency: time.Hour}))
	defer srv.Close()
	c := srv.Client()
	c.Timeout = 30 * time.Second
	for i := 0; i < 20; i++ {
		resp, _ := get(t, c, srv.URL+"/healthz")
		if resp.StatusCode != 200 {
			t.Fatalf("healthz status %d", resp.StatusCode)
		}
	}
}

func TestInfoJSON(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Revision: "v3", ErrorRate: 0.25, Latency: 3 * time.Millisecond}))
	defer srv.Close()
	resp, body := get(t, srv.Client(), srv.URL+"/api/info")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var info Info
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	want := Info{Revision: "v3", ErrorRate: 0.25, Latency: "3ms"}
	if info != want {
		t.Errorf("info = %+v, want %+v", info, want)
	}
}

func TestUnknownPath404(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Revision: "v1"}))
	defer srv.Close()
	resp, _ := get(t, srv.Client(), srv.URL+"/nope")
	if resp.StatusCode != 404 {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

// countErrors sends n concurrent requests to / and returns how many were 500.
func countErrors(t *testing.T, o Options, n int) int {
	t.Helper()
	srv := httptest.NewServer(Handler(o))
	defer srv.Close()
	c := srv.Client()
	c.Timeout = 10 * time.Second
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs, next := 0, make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				resp, err := c.Get(srv.URL + "/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get(RevisionHeader) != o.Revision {
					t.Errorf("revision header %q", resp.Header.Get(RevisionHeader))
				}
				switch resp.StatusCode {
				case 500:
					mu.Lock()
					errs++
					mu.Unlock()
				case 200:
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func TestErrorRateHonoured(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		rate float64
		seed int64
	}{{0.1, 1}, {0.3, 0}, {0, 0}, {1, 0}} {
		got := countErrors(t, Options{Revision: "v1", ErrorRate: tc.rate, Seed: tc.seed}, n)
		// A binomial count lies within 5 standard deviations of its mean
		// except with probability below 1e-6, so this bound does not flake,
		// yet an ignored or inverted rate (0 vs 200, 600 vs 1400) fails it.
		mean := n * tc.rate
		slack := 5 * math.Sqrt(n*tc.rate*(1-tc.rate))
		if float64(got) < mean-slack || float64(got) > mean+slack {
			t.Errorf("rate %.2f: %d errors of %d, want %.0f±%.0f", tc.rate, got, n, mean, slack)
		}
	}
}

func TestSeedIsReproducible(t *testing.T) {
	// The same seed must give the same failure pattern, request by request.
	pattern := func() string {
		srv := httptest.NewServer(Handler(Options{Revision: "v1", ErrorRate: 0.5, Seed: 42}))
		defer srv.Close()
		var sb strings.Builder
		for i := 0; i < 64; i++ {
			resp, _ := get(t, srv.Client(), srv.URL+"/")
			if resp.StatusCode == 500 {
				sb.WriteByte('x')
			} else {
				sb.WriteByte('.')
			}
		}
		return sb.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Errorf("same seed, different patterns:\n%s\n%s", a, b)
	}
}

func TestLatencyAdded(t *testing.T) {
	// Only a lower bound: sleeping at least the configured latency is the
	// behaviour; how much longer it takes depends on the machine.
	const lat = 30 * time.Millisecond
	srv := httptest.NewServer(Handler(Options{Revision: "v1", Latency: lat, LatencyJitter: 5 * time.Millisecond}))
	defer srv.Close()
	for i := 0; i < 3; i++ {
		start := time.Now()
		get(t, srv.Client(), srv.URL+"/")
		if d := time.Since(start); d < lat {
			t.Errorf("request took %v, want at least %v", d, lat)
		}
	}
}
