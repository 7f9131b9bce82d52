// Command loadgen is the load side of bench/weight-change.sh: raw HTTP/1.1
// keep-alive clients with no retries (every error or non-200 answer is
// counted as failed), an admin client that changes weights, and a prober
// that measures how long a change takes to serve. With -idle it instead
// opens that many keep-alive connections and holds them, for measuring the
// router's memory per connection.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19180", "router address")
	admin := flag.String("admin", "", "admin API address (weight changes)")
	token := flag.String("token", "", "admin bearer token")
	release := flag.String("release", "app", "release name")
	salt := flag.String("salt", "bench", "key salt (must match the routes file)")
	conns := flag.Int("c", 32, "load connections")
	changes := flag.Int("changes", 100, "weight changes")
	idle := flag.Int("idle", 0, "open this many idle keep-alive connections, print READY, hold until stdin closes")
	flag.Parse()
	if *idle > 0 {
		holdIdle(*addr, *idle)
		return
	}
	os.Exit(weightChanges(*addr, *admin, *token, *release, *salt, *conns, *changes))
}

// client is one keep-alive connection sending GETs with a cookie.
type client struct {
	c  net.Conn
	br *bufio.Reader
}

func dial(addr string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &client{c: c, br: bufio.NewReader(c)}, nil
}

// get sends one request and returns the status and served version.
func (cl *client) get(uid string) (int, string, error) {
	cl.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(cl.c, "GET / HTTP/1.1\r\nHost: bench\r\nCookie: uid=%s\r\n\r\n", uid); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(cl.br, nil)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(router.DefaultVersionHeader), nil
}

func weightChanges(addr, admin, token, release, salt string, conns, changes int) int {
	// A key in [10 %, 50 %): stable at 10 % canary weight, canary at 50 %.
	probeKey := ""
	for i := 0; ; i++ {
		k := "probe-" + strconv.Itoa(i)
		if b := router.Bucket(salt, k); b >= 150_000 && b < 450_000 {
			probeKey = k
			break
		}
	}
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cl, err := dial(addr)
			if err != nil {
				failed.Add(1)
				return
			}
			defer cl.c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := cl.get(fmt.Sprintf("w%d-%d", w, i%10000))
				sent.Add(1)
				if err != nil || code != 200 {
					failed.Add(1)
					if err != nil { // no retry: a new connection, and the failure stays counted
						cl.c.Close()
						if cl, err = dial(addr); err != nil {
							return
						}
					}
				}
			}
		}(w)
	}
	probe, err := dial(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	// took: PUT sent -> first request served with the new weights was sent
	// (includes the admin round trip). applied: PUT answered, which the
	// router does only after the swap -> that request was sent. seen: PUT
	// answered -> its answer arrived (the probe's own latency under load).
	var took, putRTT, applied, seen []time.Duration
	stale := 0                         // answers with the old weights to requests sent after the PUT returned
	time.Sleep(500 * time.Millisecond) // load running before the first change
	for i := 0; i < changes; i++ {
		pct, want := 50.0, "v2"
		if i%2 == 1 {
			pct, want = 10.0, "v1"
		}
		body := fmt.Sprintf(`{"canaryWeight":%g,"baselineWeight":0}`, pct)
		req, _ := http.NewRequest(http.MethodPut, "http://"+admin+"/v1/releases/"+release+"/weights", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "admin PUT failed:", err, resp)
			return 1
		}
		resp.Body.Close()
		tApplied := time.Now()
		putRTT = append(putRTT, tApplied.Sub(t0))
		for {
			sentAt := time.Now()
			_, v, err := probe.get(probeKey)
			if err != nil {
				fmt.Fprintln(os.Stderr, "probe:", err)
				return 1
			}
			if v == want {
				// Effective when the first request showing it was sent:
				// the probe's own queueing behind the load is not the swap's.
				took = append(took, sentAt.Sub(t0))
				applied = append(applied, sentAt.Sub(tApplied))
				seen = append(seen, time.Since(tApplied))
				break
			}
			stale++ // the swap precedes the PUT's answer: this must not happen
			if time.Since(t0) > 5*time.Second {
				fmt.Fprintln(os.Stderr, "change", i, "did not take effect within 5 s")
				return 1
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	q := func(d []time.Duration, q float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(q*float64(len(d)-1))]) / 1e6
	}
	fmt.Printf("requests: %d under %d keep-alive connections\n", sent.Load(), conns)
	fmt.Printf("admin PUT round trip: p50 %.3f ms, p99 %.3f ms\n", q(putRTT, 0.5), q(putRTT, 0.99))
	fmt.Printf("PUT sent -> first request served with the new weights was sent: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		q(took, 0.5), q(took, 0.99), q(took, 1))
	fmt.Printf("PUT answered (after the swap) -> first request served with the new weights: sent p99 %.3f ms, answered p50 %.3f ms, p99 %.3f ms; stale answers after the PUT returned: %d\n",
		q(applied, 0.99), q(seen, 0.5), q(seen, 0.99), stale)
	fmt.Printf("weight changes: %d, failed requests: %d, time to take effect p99: %.3f ms (from the swap; admin PUT round trip p99 %.3f ms)\n",
		len(took), failed.Load(), q(applied, 0.99), q(putRTT, 0.99))
	return 0
}

// holdIdle opens n connections, sends one request on each so they are
// established keep-alive connections, then holds them idle until stdin
// closes.
func holdIdle(addr string, n int) {
	held := make([]*client, 0, n)
	for i := 0; i < n; i++ {
		cl, err := dial(addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial", i, err)
			os.Exit(1)
		}
		if code, _, err := cl.get("idle-" + strconv.Itoa(i)); err != nil || code != 200 {
			fmt.Fprintln(os.Stderr, "request", i, code, err)
			os.Exit(1)
		}
		cl.c.SetDeadline(time.Time{})
		held = append(held, cl)
	}
	fmt.Println("READY", len(held))
	io.Copy(io.Discard, os.Stdin)
	for _, cl := range held {
		cl.c.Close()
	}
}
