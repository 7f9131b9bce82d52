// Package verify checks a live release from the outside, the way a user's
// traffic sees it: it sends a bounded number of real requests through the
// router, measures the share each revision served against the configured
// weight, and checks that a user with a cookie keeps seeing one revision.
//
// The split rule: the canary share is a binomial proportion; verify prints
// its 95 % Wilson interval, and passes when the expected share lies inside
// the 99.9 % Wilson interval. The wider interval keeps false alarms at a
// correct weight to about 1 in 1000 runs, so a red verify is worth
// investigating, while a weight that is off by a factor (5 % vs 10 %, 0 % vs
// 1 %) is still caught at the default 1000–2000 requests. Stickiness is
// deterministic in kanaria's router (a hash of the cookie), so one user who
// switched revision is a failure.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultRequests      = 1000
	DefaultUsers         = 50
	DefaultPerUser       = 10
	DefaultConcurrency   = 8
	DefaultTimeout       = 10 * time.Second
	DefaultVersionHeader = "X-Kanaria-Version"
	// UnknownPct in ExpectCanaryPct means "no expected weight": the split is
	// reported but not judged.
	UnknownPct = -1.0
)

// Options configure one verify run.
type Options struct {
	// URL is the address of kanaria's router (or anything that stamps the
	// version header), e.g. "http://127.0.0.1:8080/".
	URL string
	// Requests is the number of cookie-less requests in the split phase.
	Requests int
	// CanaryRevision and StableRevision name the revisions; either or both
	// may be empty, and are then inferred from what was served.
	CanaryRevision string
	StableRevision string
	// ExpectCanaryPct is the configured canary weight in percent; negative
	// means unknown (UnknownPct). Zero means "expect no canary traffic".
	ExpectCanaryPct float64
	// Users × PerUser requests check stickiness, each user with its own
	// cookie jar.
	Users, PerUser int
	// Concurrency is the number of requests (or users) in flight at once.
	Concurrency int
	// Timeout bounds each single request.
	Timeout time.Duration
	// VersionHeader is the response header naming the serving revision.
	VersionHeader string
	// Client, if set, is used for every request (its Jar is ignored: verify
	// controls cookies itself). Nil means a fresh client per run.
	Client *http.Client
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("verify: URL %q: want an http:// or https:// address of the router", o.URL)
	}
	if o.Requests < 0 || o.Users < 0 || o.PerUser < 0 || o.Concurrency < 0 || o.Timeout < 0 {
		return o, errors.New("verify: requests, users, per-user, concurrency and timeout must not be negative")
	}
	if o.ExpectCanaryPct > 100 {
		return o, fmt.Errorf("verify: expected canary share %.4g%% is above 100%%", o.ExpectCanaryPct)
	}
	if o.Requests == 0 {
		o.Requests = DefaultRequests
	}
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.PerUser == 0 {
		o.PerUser = DefaultPerUser
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.VersionHeader == "" {
		o.VersionHeader = DefaultVersionHeader
	}
	return o, nil
}

// Run performs both phases and returns the figures. It returns an error only
// when it could not measure (bad options, unreachable URL, too many failed
// requests, no version header at all, ctx ended); a measured mismatch is a
// Result whose OK() is false. Time is bounded: every request has o.Timeout
// and the request counts are fixed, so a run takes at most about
// (Requests + Users×PerUser) / Concurrency × Timeout, and ctx can cut it.
func Run(ctx context.Context, o Options, progress io.Writer) (Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	c := o.Client
	if c == nil {
		c = newClient(o.Concurrency)
		defer c.CloseIdleConnections()
	}
	p := &prober{o: o, client: c}
	res := Result{URL: o.URL, ExpectedPct: o.ExpectCanaryPct, VersionHeader: o.VersionHeader}

	fmt.Fprintf(progress, "verify: split: %d requests without cookies to %s (concurrency %d)\n", o.Requests, o.URL, o.Concurrency)
	sp, err := p.split(ctx, progress)
	if err != nil {
		return res, err
	}
	res.fillSplit(sp, o)
	res.reportSplit(progress)

	fmt.Fprintf(progress, "verify: stickiness: %d users × %d requests, each user keeping its cookies\n", o.Users, o.PerUser)
	st, err := p.stickiness(ctx)
	if err != nil {
		return res, err
	}
	res.fillStickiness(st)
	res.reportStickiness(progress)
	return res, nil
}

// newClient builds the default client: pooled keep-alive connections sized
// to the concurrency (so a run does not exhaust ephemeral ports), and no
// redirect following, because the version header is on the response the
// router sent, not on wherever it points.
func newClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency
	tr.MaxIdleConns = concurrency * 2
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
