package verify

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, o Options) (Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, o, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	return res, progress.String()
}

func TestCorrectSplitPasses(t *testing.T) {
	f := &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 100_000, sticky: true}
	url := startFakeRouter(t, f)
	res, progress := run(t, Options{URL: url, Requests: 2000, ExpectCanaryPct: 10, StableRevision: "v1", CanaryRevision: "v2"})
	if !res.OK() {
		t.Fatalf("want OK, got %s\n%s", res.Summary(), progress)
	}
	if res.Labelled != 2000 || res.CanaryRevision != "v2" || res.CanaryCount == 0 {
		t.Errorf("figures: %+v", res)
	}
	if !res.CI95.Contains(res.CanaryPct) || res.CI95.HighPct-res.CI95.LowPct > res.CI999.HighPct-res.CI999.LowPct {
		t.Errorf("intervals inconsistent: share %.2f, 95%% %+v, 99.9%% %+v", res.CanaryPct, res.CI95, res.CI999)
	}
	if res.StableUsers != 50 || res.Users != 50 || res.UsersWithCookie != 50 {
		t.Errorf("stickiness figures: %+v", res)
	}
	// Both revisions should have real users in the stickiness phase, or the
	// check would not have exercised anything.
	if res.UsersByRevision["v1"] == 0 || res.UsersByRevision["v2"] == 0 {
		t.Errorf("users by revision %v: stickiness not exercised", res.UsersByRevision)
	}
	// Only the stickiness users' follow-up requests carry a cookie: the
	// split phase must send none.
	if got, want := f.withCookie.Load(), int64(50*9); got != want {
		t.Errorf("%d requests carried the cookie, want %d (split phase must send none)", got, want)
	}
	s := res.Summary()
	if !strings.HasPrefix(s, "verify: canary v2 ") || !strings.Contains(s, "of 2000 (95% CI ") ||
		!strings.Contains(s, "expected 10.00%) OK; stickiness 50/50 users stable OK") || strings.Contains(s, "\n") {
		t.Errorf("summary %q", s)
	}
}

func TestWrongExpectedWeightFails(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 100_000, sticky: true})
	res, _ := run(t, Options{URL: url, Requests: 2000, ExpectCanaryPct: 5, CanaryRevision: "v2", Users: 20, PerUser: 5})
	if res.SplitOK || res.OK() {
		t.Fatalf("10%% served, 5%% expected, yet OK: %s", res.Summary())
	}
	if !res.StickyOK {
		t.Errorf("stickiness should still pass: %s", res.Summary())
	}
	if s := res.Summary(); !strings.Contains(s, "expected 5.00%) FAIL") {
		t.Errorf("summary %q", s)
	}
}

func TestCanaryInferredFromShares(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 200_000, sticky: true})
	res, progress := run(t, Options{URL: url, Requests: 1000, ExpectCanaryPct: 20, Users: 10})
	if res.CanaryRevision != "v2" || res.StableRevision != "v1" || !res.Inferred {
		t.Errorf("inferred stable %q canary %q", res.StableRevision, res.CanaryRevision)
	}
	if !res.OK() {
		t.Errorf("want OK: %s", res.Summary())
	}
	if !strings.Contains(progress, "inferred") {
		t.Errorf("progress should say the revisions were inferred:\n%s", progress)
	}
}

func TestUnknownExpectationIsReportedNotJudged(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 300_000, sticky: true})
	res, _ := run(t, Options{URL: url, Requests: 500, ExpectCanaryPct: UnknownPct, Users: 10})
	if res.SplitChecked || !res.OK() {
		t.Errorf("unknown expectation should not be judged: %s", res.Summary())
	}
	if s := res.Summary(); !strings.Contains(s, "no expected weight given") {
		t.Errorf("summary %q", s)
	}
}

func TestNoCanaryTrafficWithZeroExpected(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 0, sticky: true})
	res, _ := run(t, Options{URL: url, Requests: 500, ExpectCanaryPct: 0, CanaryRevision: "v2", Users: 10})
	if !res.OK() || res.CanaryCount != 0 {
		t.Errorf("want OK with no canary: %s", res.Summary())
	}
	if s := res.Summary(); !strings.Contains(s, "not informative") {
		t.Errorf("one revision served; summary should say stickiness was not exercised: %q", s)
	}
}

func TestCanaryTrafficWhenNoneExpectedFails(t *testing.T) {
	// 1 % canary traffic while 0 % is configured: the lower bound of the
	// interval is above 0 once any canary response is seen.
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 10_000, sticky: true})
	res, _ := run(t, Options{URL: url, Requests: 2000, ExpectCanaryPct: 0, CanaryRevision: "v2", Users: 10})
	if res.SplitOK {
		t.Errorf("canary traffic with 0%% expected passed: %s", res.Summary())
	}
}

func TestNonStickyRouterFailsStickiness(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 300_000, sticky: false})
	res, progress := run(t, Options{URL: url, Requests: 500, ExpectCanaryPct: 30})
	if res.StickyOK || res.OK() {
		t.Fatalf("random per-request routing passed stickiness: %s", res.Summary())
	}
	if res.SwitchedUsers == 0 || res.StableUsers+res.SwitchedUsers != 50 {
		t.Errorf("switched %d stable %d", res.SwitchedUsers, res.StableUsers)
	}
	if s := res.Summary(); !strings.Contains(s, "switched FAIL") {
		t.Errorf("summary %q\n%s", s, progress)
	}
}

func TestUnreachableURLIsAClearError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	_, err = Run(context.Background(), Options{URL: "http://" + addr + "/", Requests: 100, Timeout: 5 * time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach http://"+addr) {
		t.Fatalf("want a 'cannot reach' error, got %v", err)
	}
}

func TestHangingServerBoundedByTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, err := Run(context.Background(), Options{URL: srv.URL, Requests: 100, Timeout: 200 * time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("want a timeout error, got %v", err)
	}
}

func TestMissingVersionHeaderIsAnError(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 100_000, sticky: true, noHeader: true})
	_, err := Run(context.Background(), Options{URL: url, Requests: 50}, nil)
	if err == nil || !strings.Contains(err.Error(), "X-Kanaria-Version") {
		t.Fatalf("want an error naming the header, got %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: ""},
		{URL: "ftp://127.0.0.1/"},
		{URL: "http://127.0.0.1/", Requests: -1},
		{URL: "http://127.0.0.1/", ExpectCanaryPct: 150},
	} {
		if _, err := Run(context.Background(), o, nil); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestCancelledContextStopsRun(t *testing.T) {
	url := startFakeRouter(t, &fakeRouter{stable: "v1", canary: "v2", canaryPPM: 100_000, sticky: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{URL: url, Requests: 100}, nil); err == nil {
		t.Fatal("cancelled run returned no error")
	}
}
