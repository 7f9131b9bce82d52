// Command rollback is the measuring side of bench/rollback.sh: it drives a
// steady request rate through kanaria's router (keep-alive clients without
// cookies, so every request lands in a random bucket), starts the bad
// canary through the control plane's API, and measures the seconds from the
// canary's first answered request to the moment the API reports 0 % canary
// after an abort. Everything is bounded by -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

func main() {
	routerURL := flag.String("router", "http://127.0.0.1:19280/", "router URL")
	stateDir := flag.String("state-dir", "", "kanaria up's state directory (API address and token)")
	rollout := flag.String("rollout", "app", "rollout name")
	canary := flag.String("canary", "v2", "bad revision to start")
	rate := flag.Int("rate", 1000, "requests per second")
	workers := flag.Int("c", 64, "concurrent keep-alive clients")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if err := run(*routerURL, *stateDir, *rollout, *canary, *rate, *workers, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "rollback:", err)
		os.Exit(1)
	}
}

// traffic counts what the load saw, per revision.
type traffic struct {
	sent, failed           atomic.Int64
	mu                     sync.Mutex
	first, last            map[string]time.Time
	byRevision, errsByRevi map[string]int64
	times                  map[string][]time.Time // when each answer of a revision came, in order
}

func (t *traffic) record(rev string, status int) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.first[rev]; !ok {
		t.first[rev] = now
	}
	t.last[rev] = now
	t.byRevision[rev]++
	t.times[rev] = append(t.times[rev], now)
	if status >= 500 {
		t.errsByRevi[rev]++
	}
}

func (t *traffic) firstLast(rev string) (time.Time, time.Time, int64, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first[rev], t.last[rev], t.byRevision[rev], t.errsByRevi[rev]
}

func run(routerURL, stateDir, rollout, canary string, rate, workers int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	api, err := client.FromStateDir(stateDir)
	if err != nil {
		return err
	}
	tr := &traffic{first: map[string]time.Time{}, last: map[string]time.Time{}, byRevision: map[string]int64{}, errsByRevi: map[string]int64{}, times: map[string][]time.Time{}}
	loadStart := time.Now()
	loadCtx, stopLoad := context.WithCancel(ctx)
	done := drive(loadCtx, routerURL, rate, workers, tr)
	defer func() { stopLoad(); <-done }()

	time.Sleep(2 * time.Second) // steady state before the release
	if _, err := api.Do(ctx, rollout, engine.Command{Kind: engine.CmdStart, Revision: canary}); err != nil {
		return fmt.Errorf("start %s: %w", canary, err)
	}
	started := time.Now()
	var zeroAt time.Time
	var final v1alpha1.RolloutStatus
	for zeroAt.IsZero() {
		v, err := api.Get(ctx, rollout)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if v.Status.Phase == v1alpha1.PhaseAborted && v.Status.Weights.CanaryPPM == 0 {
			zeroAt, final = time.Now(), v.Status
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no rollback within %s (phase %s, canary %d ppm)", timeout, v.Status.Phase, v.Status.Weights.CanaryPPM)
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(time.Second) // let stragglers in flight finish
	stopLoad()
	<-done
	first, last, n, errs := tr.firstLast(canary)
	if first.IsZero() {
		return fmt.Errorf("the canary answered no request before the abort (%s)", final.Message)
	}
	secs := time.Since(loadStart).Seconds()
	fmt.Printf("load: %d requests (%d failed) in %.1f s: %.0f req/s (target %d)\n", tr.sent.Load(), tr.failed.Load(), secs, float64(tr.sent.Load())/secs, rate)
	fmt.Printf("canary %s: %d requests, %d errors (%.0f%%); started -> first canary request %.2f s\n", canary, n, errs, 100*float64(errs)/float64(max(n, 1)), first.Sub(started).Seconds())
	fmt.Printf("last canary response %.2f s after its first (router stopped sending to it)\n", last.Sub(first).Seconds())
	fmt.Printf("why: %s\n", final.Message)
	if b, err := breakdown(ctx, api, rollout, canary, tr, first, zeroAt); err != nil {
		fmt.Printf("where the time went: unknown (%v)\n", err)
	} else {
		fmt.Println(b)
	}
	fmt.Printf("bad canary to 0%% canary: %.1f s\n", zeroAt.Sub(first).Seconds())
	return nil
}

// drive paces rate requests per second over workers keep-alive clients
// until ctx ends; a beat with every worker busy is skipped, not queued.
func drive(ctx context.Context, url string, rate, workers int, tr *traffic) <-chan struct{} {
	done := make(chan struct{})
	jobs := make(chan struct{}, workers)
	transport := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	c := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := c.Do(req)
				tr.sent.Add(1)
				if err != nil {
					if !strings.Contains(err.Error(), "context canceled") {
						tr.failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				tr.record(resp.Header.Get("X-Kanaria-Version"), resp.StatusCode)
			}
		}()
	}
	go func() {
		defer close(done)
		defer transport.CloseIdleConnections()
		defer wg.Wait()
		defer close(jobs)
		interval := time.Second / time.Duration(rate)
		next := time.Now()
		for {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			} else if ctx.Err() != nil {
				return
			}
			select {
			case jobs <- struct{}{}:
			default:
			}
		}
	}()
	return done
}
