package router

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The event loop and the goroutine path must answer any request stream the
// same way, whichever of them serves each request and wherever the loop
// hands a connection over. This test sends seeded random streams — methods,
// bodies with a length or chunked, small or large, answers with a length,
// chunked or none, pipelined or not, written in random pieces — through
// both and compares what comes back, and checks it against what the
// upstream sent.
func TestLoopAndGoroutinesAnswerAlike(t *testing.T) {
	up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		w.Header().Set("X-Req", fmt.Sprintf("%s %d %x", r.Method, len(b), sum[:4]))
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		n, _ := strconv.Atoi(parts[1])
		body := answerBody(n)
		switch parts[0] {
		case "cl":
			w.Header().Set("Content-Length", strconv.Itoa(n))
			w.Write(body)
		case "chunked":
			for len(body) > 0 {
				k := min(len(body), 1+n/3)
				w.Write(body[:k])
				w.(http.Flusher).Flush()
				body = body[k:]
			}
		case "none":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	cfg := twoVersions(up.URL, up.URL, 50)
	loopRouter, loopBase := serveRouter(t, frontEnd{name: "loop", server: HTTPServerFast}, cfg)
	_, grBase := serveRouter(t, frontEnd{name: "goroutines", server: HTTPServerGoroutines}, cfg)
	for seed := int64(1); seed <= 150; seed++ {
		reqs := randomStream(rand.New(rand.NewSource(seed)))
		got := exchange(t, loopBase, reqs, rand.New(rand.NewSource(seed)))
		want := exchange(t, grBase, reqs, rand.New(rand.NewSource(seed)))
		if got != want {
			t.Fatalf("seed %d: the front ends differ\nloop:\n%s\ngoroutines:\n%s", seed, got, want)
		}
		for i, r := range reqs {
			if !strings.Contains(got, r.expect) {
				t.Fatalf("seed %d: request %d (%s) not answered as the upstream did (%q):\n%s", seed, i, r.line, r.expect, got)
			}
		}
	}
	if runtime.GOOS == "linux" { // both halves of the default front end took part
		lc := loopRouter.Telemetry().Loop()
		t.Logf("event loop: %d served, %d handed off", lc.Served.Load(), lc.HandedOff.Load())
		if lc.Served.Load() < 100 || lc.HandedOff.Load() < 20 {
			t.Errorf("event loop served %d and handed off %d: the streams did not exercise both", lc.Served.Load(), lc.HandedOff.Load())
		}
	}
}

// answerBody is the upstream's n-byte answer: a pattern both sides can check.
func answerBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

type streamReq struct {
	raw    string // the request as sent
	line   string
	method string
	expect string // a line the summary of its answer must contain
}

// randomStream makes 1 to 5 requests on one connection; the last may close it.
func randomStream(rng *rand.Rand) []streamReq {
	var out []streamReq
	n := 1 + rng.Intn(5)
	for i := 0; i < n; i++ {
		method := []string{"GET", "GET", "HEAD", "POST", "PUT", "DELETE"}[rng.Intn(6)]
		kind := []string{"cl", "chunked", "none"}[rng.Intn(3)]
		size := []int{0, 1, 100, 3000, 70000}[rng.Intn(5)]
		path := fmt.Sprintf("/%s/%d", kind, size)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: shop\r\nX-User: u%d\r\n", method, path, rng.Intn(1000))
		var body []byte
		if method == "POST" || method == "PUT" {
			body = answerBody([]int{0, 5, 2000, 9000}[rng.Intn(4)])
		}
		chunkedBody := len(body) > 0 && rng.Intn(2) == 0
		switch {
		case chunkedBody:
			b.WriteString("Transfer-Encoding: chunked\r\n")
		case body != nil:
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
		}
		if i == n-1 && rng.Intn(3) == 0 {
			b.WriteString("Connection: close\r\n")
		}
		b.WriteString("\r\n")
		if chunkedBody {
			for rest := body; len(rest) > 0; {
				k := min(len(rest), 1+rng.Intn(3000))
				fmt.Fprintf(&b, "%x\r\n%s\r\n", k, rest[:k])
				rest = rest[k:]
			}
			b.WriteString("0\r\n\r\n")
		} else {
			b.Write(body)
		}
		sum := sha256.Sum256(body)
		answer := size
		if kind == "none" || method == "HEAD" {
			answer = 0
		}
		out = append(out, streamReq{
			raw: b.String(), line: method + " " + path, method: method,
			expect: fmt.Sprintf("X-Req=%s %d %x body=%d/%x", method, len(body), sum[:4], answer, sha256.Sum256(answerBody(answer))),
		})
	}
	return out
}

// exchange sends reqs on one connection to base, pipelined or one by one
// and in random pieces, and summarises every answer.
func exchange(t *testing.T, base string, reqs []streamReq, rng *rand.Rand) string {
	t.Helper()
	conn := dialRouter(t, base)
	defer conn.Close()
	pipelined := rng.Intn(2) == 0
	send := func(raw string) {
		for len(raw) > 0 {
			k := min(len(raw), 1+rng.Intn(6000))
			if _, err := io.WriteString(conn, raw[:k]); err != nil {
				return // the router closed the connection: the answers tell why
			}
			raw = raw[k:]
			if rng.Intn(4) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	var all string
	for _, r := range reqs {
		all += r.raw
	}
	if pipelined {
		go send(all)
	}
	br := bufio.NewReader(conn)
	var sum bytes.Buffer
	for _, r := range reqs {
		if !pipelined {
			send(r.raw)
		}
		req, _ := http.NewRequest(r.method, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			fmt.Fprintf(&sum, "%s: error %v\n", r.line, err)
			break
		}
		body, err := io.ReadAll(resp.Body)
		bs := sha256.Sum256(body)
		fmt.Fprintf(&sum, "%s: %d X-Req=%s body=%d/%x err=%v version=%s close=%v\n", r.line, resp.StatusCode,
			resp.Header.Get("X-Req"), len(body), bs, err, resp.Header.Get(DefaultVersionHeader), resp.Close)
	}
	return sum.String()
}
