package router

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// shopAPI is a loopback JSON service. Every answer carries noise (a random
// id and a timestamp) so two copies of the same revision never agree on
// them; the canary (changed) also differs on purpose: a changed price, a
// 500 instead of a 200, and a reordered array.
func shopAPI(t *testing.T, revision string, changed bool, seen *mirrorSeen) string {
	return upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen.add(r, body)
		items := []map[string]any{{"sku": "a", "price": 10}, {"sku": "b", "price": 20}}
		status := 200
		if changed {
			switch r.URL.Path {
			case "/price":
				items[1]["price"] = 21
			case "/status":
				status = 500
			case "/order":
				items[0], items[1] = items[1], items[0]
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", revision)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"id": rand.Uint64(), "ts": time.Now().UnixNano(), "items": items, "path": r.URL.Path})
	}).URL
}

// mirrorSeen records what reached a server.
type mirrorSeen struct {
	mu      sync.Mutex
	methods map[string]int
	marked  int // requests carrying the mirror header
	bodies  []string
	stamps  map[string]bool
}

func (s *mirrorSeen) add(r *http.Request, body []byte) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.methods == nil {
		s.methods, s.stamps = map[string]int{}, map[string]bool{}
	}
	s.methods[r.Method]++
	if r.Header.Get(DefaultMirrorHeader) == "1" {
		s.marked++
	}
	s.stamps[r.Header.Get(DefaultVersionHeader)] = true
	if len(body) > 0 {
		s.bodies = append(s.bodies, string(body))
	}
}

func (s *mirrorSeen) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[method]
}

func mirrorConfig(stable, canary, baseline string, m *v1alpha1.Mirror) Config {
	cfg := twoVersions(stable, canary, 0)
	if baseline != "" {
		cfg.Releases[0].Baseline = &Backend{Revision: "v1", Endpoints: []string{baseline}}
	}
	cfg.Releases[0].Mirror = m
	return cfg
}

// waitCompared polls the report until n requests were compared (bounded:
// 20 s), and returns it.
func waitCompared(t *testing.T, r *Router, n int64) shadow.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, ok := r.MirrorReport("shop")
		if ok && rep.Counters.Compared >= n {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %+v compared of %d", rep.Counters, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSettled polls the report until each of n sampled requests was
// compared or dropped (bounded: 20 s).
func waitSettled(t *testing.T, r *Router, n int64) shadow.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, _ := r.MirrorReport("shop")
		if cs := rep.Counters; cs.Sampled >= n && cs.Compared+cs.Dropped >= cs.Sampled {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %+v", rep.Counters)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fieldsOf(rep shadow.Report, endpoint string) map[string]shadow.FieldReport {
	out := map[string]shadow.FieldReport{}
	for _, e := range rep.Endpoints {
		if e.Endpoint == endpoint {
			for _, f := range e.Fields {
				out[f.Field.String()] = f
			}
		}
	}
	return out
}

// Mirrored requests reach the canary and the baseline marked as such,
// users get stable's answers, and the comparison tells the canary's
// deliberate differences from the noise both copies of stable show.
func TestMirrorTellsDifferencesFromNoise(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		var canarySeen, baselineSeen mirrorSeen
		stable := shopAPI(t, "v1", false, nil)
		canary := shopAPI(t, "v2", true, &canarySeen)
		baseline := shopAPI(t, "v1", false, &baselineSeen)
		r, base := serveRouter(t, fe, mirrorConfig(stable, canary, baseline, &v1alpha1.Mirror{Percentage: percent(100)}))
		c := client()
		const each = 40
		paths := []string{"/price", "/status", "/order", "/same"}
		var rep shadow.Report
		for i := range each {
			for _, p := range paths {
				resp := get(t, c, base+p+"?n="+fmt.Sprint(i), map[string]string{"X-User": "u" + fmt.Sprint(i)})
				if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "v1" {
					t.Fatalf("%s: user got %d from %q, want stable's 200", p, resp.StatusCode, resp.Header.Get("X-Upstream"))
				}
			}
			if i%10 == 9 { // within the queue's 64, however slowly a busy machine runs the copies
				rep = waitCompared(t, r, int64(i+1)*int64(len(paths)))
			}
		}
		if rep.Counters.Dropped != 0 || rep.Counters.Sampled != each*int64(len(paths)) {
			t.Errorf("counters %+v", rep.Counters)
		}
		if canarySeen.marked != each*len(paths) || baselineSeen.marked != each*len(paths) {
			t.Errorf("mirror header on %d canary and %d baseline requests, want %d", canarySeen.marked, baselineSeen.marked, each*len(paths))
		}
		if !canarySeen.stamps["v2"] || len(canarySeen.stamps) != 1 {
			t.Errorf("canary saw version stamps %v, want v2", canarySeen.stamps)
		}
		want := map[string][]string{
			"GET /price":  {"json items[].price"},
			"GET /status": {"status"},
			"GET /order":  {"json items[].sku", "json items[].price"},
			"GET /same":   nil,
		}
		for ep, sig := range want {
			fs := fieldsOf(rep, ep)
			for _, noise := range []string{"json id", "json ts"} {
				if f := fs[noise]; f.Significant || f.NoiseRate < 0.9 {
					t.Errorf("%s %s is noise, reported %+v", ep, noise, f)
				}
			}
			for name, f := range fs {
				if f.Significant != contains(sig, name) {
					t.Errorf("%s %s: significant=%v (candidate %.2f, noise %.2f)", ep, name, f.Significant, f.CandidateRate, f.NoiseRate)
				}
			}
			for _, name := range sig {
				if fs[name].CandidateRate != 1 {
					t.Errorf("%s %s: candidate rate %g, want 1", ep, name, fs[name].CandidateRate)
				}
			}
		}
		if rep.DifferenceAboveNoise != 1 {
			t.Errorf("difference above noise %g", rep.DifferenceAboveNoise)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Methods with side effects are not copied unless the spec lists them;
// when it does, the body goes with the copy.
func TestMirrorUnsafeMethods(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		for _, allow := range []bool{false, true} {
			var canarySeen mirrorSeen
			stable, canary := shopAPI(t, "v1", false, nil), shopAPI(t, "v2", false, &canarySeen)
			m := &v1alpha1.Mirror{Percentage: percent(100)}
			if allow {
				m.Methods = []string{"GET", "POST"}
			}
			r, base := serveRouter(t, fe, mirrorConfig(stable, canary, "", m))
			c := client()
			for i := range 10 {
				for _, method := range []string{"POST", "PUT", "DELETE", "GET"} {
					req, _ := http.NewRequest(method, base+"/order", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			wantPOST := 0
			if allow {
				wantPOST = 10
			}
			waitCompared(t, r, 10+int64(wantPOST))
			if got := canarySeen.count("GET"); got != 10 {
				t.Errorf("allow POST %v: %d GETs mirrored, want 10", allow, got)
			}
			if got := canarySeen.count("POST"); got != wantPOST {
				t.Errorf("allow POST %v: %d POSTs mirrored, want %d", allow, got, wantPOST)
			}
			if canarySeen.count("PUT")+canarySeen.count("DELETE") != 0 {
				t.Errorf("PUT or DELETE mirrored: %v", canarySeen.methods)
			}
			if allow && (len(canarySeen.bodies) != 20 || !strings.HasPrefix(canarySeen.bodies[0], `{"n":`)) {
				t.Errorf("bodies mirrored: %q", canarySeen.bodies)
			}
		}
	})
}

// A canary that takes 10 s (or never answers, or is not there) neither
// delays stable's answers nor makes the router hold more than its bounded
// queue: the copies beyond it are dropped and counted.
func TestMirrorSlowOrDeadCanaryIsBounded(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		release := make(chan struct{})
		start := time.Now()
		var arrived atomic.Int64
		slow := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}).URL
		defer close(release)
		for _, canary := range []string{slow, deadURL(t)} {
			stable := shopAPI(t, "v1", false, nil)
			m := &v1alpha1.Mirror{Percentage: percent(100), MaxConcurrency: 2, Timeout: v1alpha1.Duration(30 * time.Second)}
			r, base := serveRouter(t, fe, mirrorConfig(stable, canary, "", m))
			c := client()
			const n = 300
			for i := range n {
				if resp := get(t, c, base+"/price", map[string]string{"X-User": fmt.Sprint(i)}); resp.StatusCode != 200 {
					t.Fatalf("request %d: %d", i, resp.StatusCode)
				}
			}
			rep, _ := r.MirrorReport("shop")
			cs := rep.Counters
			if cs.Sampled != n || cs.InFlight > 2 || cs.Queued > 2*mirrorQueuePerWorker {
				t.Errorf("counters %+v: more held than 2 in flight and %d queued", cs, 2*mirrorQueuePerWorker)
			}
			if canary == slow {
				if time.Since(start) < 9*time.Second && (cs.Dropped < n-2-2*mirrorQueuePerWorker || arrived.Load() > 2) { // no slow answer came back yet
					t.Errorf("slow canary: counters %+v, %d arrived", cs, arrived.Load())
				}
			} else {
				rep = waitSettled(t, r, n)
				if rep.Counters.ShadowErrors == 0 || !fieldsOf(rep, "GET /price")["status"].Significant {
					t.Errorf("dead canary: %+v %+v", rep.Counters, fieldsOf(rep, "GET /price"))
				}
			}
		}
	})
}

// The examples kept in the report never hold configured secrets.
func TestMirrorExamplesRedacted(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		stable, canary := shopAPI(t, "v1", false, nil), shopAPI(t, "v2", true, nil)
		m := &v1alpha1.Mirror{Percentage: percent(100), Compare: &v1alpha1.MirrorCompare{
			Ignore: []string{"id", "ts"}, RedactHeaders: []string{"X-Api-Key"}, RedactCookies: []string{"session"}}}
		r, base := serveRouter(t, fe, mirrorConfig(stable, canary, "", m))
		c := client()
		for range 5 {
			get(t, c, base+"/price", map[string]string{"Authorization": "Bearer s3cret-a", "X-Api-Key": "s3cret-b", "Cookie": "theme=dark; session=s3cret-c"})
		}
		rep := waitCompared(t, r, 5)
		f := fieldsOf(rep, "GET /price")["json items[].price"]
		if len(f.Examples) == 0 {
			t.Fatalf("no examples: %+v", rep)
		}
		if _, ok := fieldsOf(rep, "GET /price")["json id"]; ok {
			t.Errorf("ignored field reported")
		}
		b, _ := json.Marshal(rep)
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("secret in report: %s", b)
		}
		ex := f.Examples[0]
		if ex.Header["Cookie"][0] != "theme=dark; session=[redacted]" || ex.Header["Authorization"][0] != "[redacted]" {
			t.Errorf("example headers %v", ex.Header)
		}
		if !strings.Contains(ex.Candidate.Body, `"price":21`) || !strings.Contains(ex.Primary.Body, `"price":20`) {
			t.Errorf("example bodies %q / %q", ex.Primary.Body, ex.Candidate.Body)
		}
	})
}

// A bad mirror in a routes file is refused whole, naming the field.
func TestMirrorConfigErrorsNameTheField(t *testing.T) {
	cfg := mirrorConfig("http://127.0.0.1:1", "http://127.0.0.1:2", "", &v1alpha1.Mirror{
		Percentage: percent(10), Match: []v1alpha1.MirrorMatch{{Path: &v1alpha1.StringMatch{Regex: "("}}}})
	cfg.Releases[0].MirrorRoutes = []v1alpha1.MirrorRoute{{Name: "", Percentage: ptr(percent(5))}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "releases[0].mirror.match[0].path.regex: error parsing regexp") ||
		!strings.Contains(err.Error(), "releases[0].mirrorRoutes[0].name: a mirror route needs a name") {
		t.Fatalf("validation: %v", err)
	}
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted it")
	}
}

func ptr[T any](v T) *T { return &v }

// Without a mirror the request path pays a nil check: nothing allocates.
func TestNoMirrorAllocatesNothing(t *testing.T) {
	tb, err := compile(twoVersions("http://127.0.0.1:1", "http://127.0.0.1:2", 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &h1.Head{Buf: []byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")}
	if err := h.Parse(); err != nil {
		t.Fatal(err)
	}
	r := request{t: tb, method: []byte("GET"), target: []byte("/x"), rel: tb.releases[0], backend: tb.releases[0].backend(Stable)}
	if n := testing.AllocsPerRun(100, func() {
		c := captureH1(&r, h)
		c.body([]byte("x"))
		c.done()
	}); n != 0 {
		t.Errorf("%v allocations per request without a mirror", n)
	}
}
