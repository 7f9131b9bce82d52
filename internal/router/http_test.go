package router

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// WebSocket through the router: a raw RFC 6455 handshake and masked
// frames from the client, echoed by a real websocket server upstream.
func TestWebSocketThroughRouter(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		ws := httptest.NewServer(websocket.Handler(func(c *websocket.Conn) {
			io.Copy(c, c)
		}))
		t.Cleanup(ws.Close)
		_, base := serveRouter(t, fe, twoVersions(ws.URL, ws.URL, 0))
		conn := dialRouter(t, base)
		key := make([]byte, 16)
		rand.Read(key)
		fmt.Fprintf(conn, "GET /echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\nX-User: u\r\n\r\n",
			base[strings.Index(base, "//")+2:], base64.StdEncoding.EncodeToString(key), base)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake status %d", resp.StatusCode)
		}
		if resp.Header.Get(DefaultVersionHeader) != "v1" {
			t.Errorf("101 not stamped: %v", resp.Header)
		}
		for _, msg := range []string{"hello", "second frame", strings.Repeat("x", 300)} {
			conn.Write(maskedTextFrame(msg))
			got, err := readFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			if got != msg {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		}
	})
}

func maskedTextFrame(msg string) []byte {
	f := []byte{0x81}
	switch n := len(msg); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	f = append(f, mask[:]...)
	for i := 0; i < len(msg); i++ {
		f = append(f, msg[i]^mask[i%4])
	}
	return f
}

func readFrame(br *bufio.Reader) (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return "", err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return "", err
		}
		n = int(ext[0])<<8 | int(ext[1])
	}
	b := make([]byte, n)
	_, err := io.ReadFull(br, b)
	return string(b), err
}

// The upstream writes one chunk, then waits until the client has read it.
// If the router buffered the response, the client would never see the
// first chunk and the upstream's wait would time out.
func TestStreamingWithoutBuffering(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		clientGotFirst := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-clientGotFirst:
				io.WriteString(w, "second\n")
			case <-time.After(10 * time.Second):
				io.WriteString(w, "timeout\n")
			}
		}))
		t.Cleanup(up.Close)
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		resp, err := client().Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(clientGotFirst)
		if line, _ = br.ReadString('\n'); line != "second\n" {
			t.Fatalf("second line %q: the router held the stream back", line)
		}
	})
}

// Expect: 100-continue: the client sends its body only after the interim
// response, which must come through the router.
func TestExpectContinue(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		conn := dialRouter(t, base)
		io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nX-User: u\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("interim response %q, %v", line, err)
		}
		for line != "\r\n" {
			line, _ = br.ReadString('\n')
		}
		io.WriteString(conn, "hello")
		resp, err := http.ReadResponse(br, nil)
		// net/http may pass on the upstream's own 100 Continue as well as
		// sending its own: interim answers may repeat (RFC 9110 15.2).
		for err == nil && resp.StatusCode == 100 {
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Body") != "hello" {
			t.Errorf("final response %d, upstream saw body %q", resp.StatusCode, resp.Header.Get("X-Seen-Body"))
		}
	})
}

// Weights flip 1000 times while clients hammer the router: no request may
// fail, and every response comes from one of the two versions.
func TestWeightSwapsUnderLoadFailNothing(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		st, ca := upstream(t, "v1"), upstream(t, "v2")
		r, base := serveRouter(t, fe, twoVersions(st.URL, ca.URL, 50))
		const workers, perWorker = 8, 400
		deadline := time.Now().Add(30 * time.Second)
		var wg sync.WaitGroup
		var sent, failed atomic.Int64
		stop := make(chan struct{})
		c := client()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < perWorker && time.Now().Before(deadline); i++ {
					req, _ := http.NewRequest("GET", base+"/", nil)
					req.Header.Set("X-User", fmt.Sprintf("w%d-%d", w, i))
					resp, err := c.Do(req)
					sent.Add(1)
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if v := resp.Header.Get(DefaultVersionHeader); resp.StatusCode != 200 || (v != "v1" && v != "v2") {
						failed.Add(1)
					}
				}
			}(w)
		}
		go func() { wg.Wait(); close(stop) }()
		flips := 0
		for ; flips < 1000 && time.Now().Before(deadline); flips++ {
			w := v1alpha1.Weights{}
			if flips%2 == 0 {
				w.CanaryPPM = PPMScale
			}
			if err := r.SetWeights("shop", w); err != nil {
				t.Fatal(err)
			}
			if flips%100 == 0 { // whole-table swaps too
				cfg := r.Config()
				if err := r.Update(cfg); err != nil {
					t.Fatal(err)
				}
			}
			if flips%10 == 0 {
				time.Sleep(time.Millisecond) // spread the flips over the load
			}
		}
		<-stop
		if failed.Load() != 0 {
			t.Fatalf("%d of %d requests failed during %d weight flips", failed.Load(), sent.Load(), flips)
		}
		if flips != 1000 || sent.Load() != workers*perWorker {
			t.Errorf("ran out of time: %d flips, %d requests", flips, sent.Load())
		}
	})
}

// Cancelling Serve's context stops accepting but lets a slow in-flight
// request finish.
func TestGracefulShutdownDrains(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		release := make(chan struct{})
		started := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			io.WriteString(w, "done")
		}))
		t.Cleanup(up.Close)
		cfg := twoVersions(up.URL, up.URL, 0)
		fe.configure(t, &cfg)
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- Serve(ctx, ln, r, cfg) }()

		type result struct {
			body string
			err  error
		}
		got := make(chan result, 1)
		go func() {
			resp, err := client().Get(fe.baseURL(ln.Addr().String()) + "/slow")
			if err != nil {
				got <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- result{string(b), err}
		}()
		<-started
		cancel()
		time.Sleep(100 * time.Millisecond) // let Shutdown close the listener
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Error("listener still accepting after shutdown began")
		}
		close(release)
		res := <-got
		if res.err != nil || res.body != "done" {
			t.Fatalf("in-flight request: %q, %v", res.body, res.err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve after a clean drain: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
		}
	})
}

func TestHeaderSizeLimit(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		cfg := twoVersions(up.URL, up.URL, 0)
		cfg.MaxHeaderBytes = 4096
		_, base := serveRouter(t, fe, cfg)
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
		resp, err := client().Do(req)
		if fe.h2 && err != nil {
			return // HTTP/2: the header block over the advertised limit ends the connection (net/http's server)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("oversized header: %d, want 431", resp.StatusCode)
		}
	})
}
