package verify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"sync/atomic"
)

// prober sends verify's requests.
type prober struct {
	o      Options
	client *http.Client
}

// maxBodyDrain bounds how much of a response body is read: enough to reuse
// the connection for small pages, without downloading a large one in full.
const maxBodyDrain = 1 << 20

// errorBudget is how many failed requests a phase tolerates before giving
// up: 1 % (at least one), so a blip is reported but a dead router stops the
// run early instead of waiting out every remaining timeout.
func errorBudget(n int) int64 { return int64(max(1, n/100)) }

// hit sends one GET and returns the revision named in the version header
// ("" if absent). Each request has its own timeout.
func (p *prober) hit(ctx context.Context, c *http.Client) (string, error) {
	rctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, p.o.URL, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyDrain))
	return resp.Header.Get(p.o.VersionHeader), nil
}

// splitData is what the cookie-less phase observed.
type splitData struct {
	counts     map[string]int
	unlabelled int
	errors     int
	firstErr   error
}

// split sends o.Requests requests with no cookie jar, so the router treats
// every request as a new user and the shares estimate the weights.
func (p *prober) split(ctx context.Context, progress io.Writer) (splitData, error) {
	nc := *p.client
	nc.Jar = nil
	d := splitData{counts: map[string]int{}}

	// One request alone first: an unreachable URL gets one clear error
	// instead of a flood of identical ones.
	rev, err := p.hit(ctx, &nc)
	if err != nil {
		return d, fmt.Errorf("verify: cannot reach %s: %w", p.o.URL, err)
	}
	d.add(rev)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		next    atomic.Int64
		done    atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
		n       = int64(p.o.Requests)
		budget  = errorBudget(p.o.Requests)
		quarter = max(n/4, 1)
	)
	next.Store(1)
	done.Store(1)
	for w := 0; w < p.o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n && ctx.Err() == nil {
				rev, err := p.hit(ctx, &nc)
				// One lock for the tallies and the progress line: the
				// caller's writer need not be safe for concurrent use.
				mu.Lock()
				if err != nil {
					d.errors++
					if d.firstErr == nil {
						d.firstErr = err
					}
				} else {
					d.add(rev)
				}
				if k := done.Add(1); k%quarter == 0 && k < n {
					fmt.Fprintf(progress, "  %d/%d requests\n", k, n)
				}
				mu.Unlock()
				if err != nil && errs.Add(1) > budget {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if errs.Load() > budget {
		return d, fmt.Errorf("verify: %d requests to %s failed, giving up (first: %w)", errs.Load(), p.o.URL, d.firstErr)
	}
	// cancel is only called over budget, so an ended ctx here is the caller's.
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if len(d.counts) == 0 {
		return d, fmt.Errorf("verify: no response from %s carried the %s header; is this kanaria's router?", p.o.URL, p.o.VersionHeader)
	}
	return d, nil
}

func (d *splitData) add(rev string) {
	if rev == "" {
		d.unlabelled++
		return
	}
	d.counts[rev]++
}

// userOutcome is what one cookie-keeping user saw.
type userOutcome struct {
	revisions  []string // distinct, in order of first sight
	unlabelled int
	errors     int
	gotCookie  bool
}

// stickyData aggregates the stickiness phase.
type stickyData struct {
	users []userOutcome
}

// stickiness runs o.Users users, each sending o.PerUser requests one after
// another with its own cookie jar, exactly as a browser keeps the router's
// sticky cookie.
func (p *prober) stickiness(ctx context.Context) (stickyData, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, _ := url.Parse(p.o.URL) // validated in withDefaults
	out := make([]userOutcome, p.o.Users)
	budget := errorBudget(p.o.Users * p.o.PerUser)
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for w := 0; w < min(p.o.Concurrency, p.o.Users); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= p.o.Users || ctx.Err() != nil {
					return
				}
				jar, _ := cookiejar.New(nil)
				uc := *p.client
				uc.Jar = jar
				var o userOutcome
				for k := 0; k < p.o.PerUser && ctx.Err() == nil; k++ {
					rev, err := p.hit(ctx, &uc)
					switch {
					case err != nil:
						o.errors++
						firstErr.CompareAndSwap(nil, err)
						if errs.Add(1) > budget {
							cancel()
						}
					case rev == "":
						o.unlabelled++
					default:
						if !contains(o.revisions, rev) {
							o.revisions = append(o.revisions, rev)
						}
					}
				}
				o.gotCookie = len(jar.Cookies(u)) > 0
				out[i] = o
			}
		}()
	}
	wg.Wait()
	if errs.Load() > budget {
		return stickyData{}, fmt.Errorf("verify: stickiness: %d requests to %s failed, giving up (first: %v)", errs.Load(), p.o.URL, firstErr.Load())
	}
	if err := ctx.Err(); err != nil {
		return stickyData{}, err
	}
	return stickyData{users: out}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
