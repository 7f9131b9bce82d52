package cli

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// demoLoad sends paced GETs through the router, like users arriving
// without a cookie (each lands in a random bucket), and remembers when each
// revision first answered, so the demo can time a rollback from the bad
// canary's first request. It is bounded by its context and by max.
type demoLoad struct {
	mu    sync.Mutex
	first map[string]time.Time
	sent  int
	stop  context.CancelFunc
	done  chan struct{}
}

// startDemoLoad sends rate requests per second to url from a few workers
// until stopped, the context ends, or max requests were sent.
func startDemoLoad(ctx context.Context, url string, rate, max int) *demoLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &demoLoad{first: map[string]time.Time{}, stop: cancel, done: make(chan struct{})}
	const workers = 8
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Timeout: 2 * time.Second, Transport: tr}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				l.one(ctx, client, url)
			}
		}()
	}
	go func() {
		defer close(l.done)
		defer tr.CloseIdleConnections()
		defer wg.Wait()
		defer close(jobs)
		defer tick.Stop()
		for n := 0; n < max; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case jobs <- struct{}{}:
			case <-ctx.Done():
				return
			default: // all workers busy: drop this beat rather than queue
			}
		}
	}()
	return l
}

func (l *demoLoad) one(ctx context.Context, c *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	now := time.Now()
	v := resp.Header.Get("X-Kanaria-Version")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if _, ok := l.first[v]; !ok && v != "" {
		l.first[v] = now
	}
}

// firstSeen is when revision first answered; zero if never.
func (l *demoLoad) firstSeen(revision string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first[revision]
}

// Stop ends the load and waits for the workers; it returns the requests
// answered.
func (l *demoLoad) Stop() int {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}
