// Command tlsconn is the new-connection side of bench/router-tls.sh: -c
// workers each open a TLS connection, send one HTTP/1.1 GET with
// "Connection: close", read the answer and close, over and over, for -d or
// -n connections in all (whichever ends first). With -resume each worker
// keeps a session cache, so after its first connection every handshake is
// a resumption (TLS 1.3 tickets); without it every handshake is full.
//
// Curves are limited to X25519 so that every server under test (OpenSSL
// 3.0 in nginx and haproxy has no ML-KEM) runs the same key exchange.
// It prints one line:
//
//	conns N errors E resumed R seconds S rate X p99ms Y
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19280", "server address")
	workers := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "how long to run")
	max := flag.Int64("n", 1_000_000, "at most this many connections in all")
	resume := flag.Bool("resume", false, "resume sessions after each worker's first connection")
	flag.Parse()

	var done, errs, resumed atomic.Int64
	lat := make([][]time.Duration, *workers)
	deadline := time.Now().Add(*dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cfg := &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519},
				NextProtos: []string{"http/1.1"}}
			if *resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			for time.Now().Before(deadline) && done.Add(1) <= *max {
				t0 := time.Now()
				r, err := once(*addr, cfg)
				if err != nil {
					errs.Add(1)
					continue
				}
				if r {
					resumed.Add(1)
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := 0.0
	if len(all) > 0 {
		p99 = float64(all[len(all)*99/100].Microseconds()) / 1000
	}
	fmt.Printf("conns %d errors %d resumed %d seconds %.2f rate %.1f p99ms %.3f\n",
		len(all), errs.Load(), resumed.Load(), secs, float64(len(all))/secs, p99)
	if len(all) == 0 {
		os.Exit(1)
	}
}

// once makes one connection and one request; it reports whether the
// handshake resumed a session.
func once(addr string, cfg *tls.Config) (bool, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\nCookie: uid=conn\r\nConnection: close\r\n\r\n"); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return c.ConnectionState().DidResume, nil
}
