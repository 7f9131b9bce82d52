package router

import (
	"net/http"
	"testing"
)

// An upstream that closes its idle keep-alive connections (a restart, a
// short keepalive_timeout) must not fail the next request: the router
// notices the stale pooled connection and sends the request on a new one,
// without charging the endpoint a failure.
func TestUpstreamClosedIdleConnections(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstream(t, "v1")
		r, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		c := client()
		for i := 0; i < 5; i++ {
			if resp := get(t, c, base+"/", map[string]string{"X-User": "u"}); resp.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
			up.CloseClientConnections() // every pooled upstream connection is now dead
		}
		if n := r.Telemetry().Counts("shop", Stable).ByClass[0]; n != 0 {
			t.Errorf("%d connection failures charged for stale keep-alive connections", n)
		}
	})
}

// HEAD, 204 and 304 answers have no body whatever their headers say; the
// connection must stay usable for the next request.
func TestBodylessResponsesKeepConnection(t *testing.T) {
	eachFrontEnd(t, func(t *testing.T, fe frontEnd) {
		up := upstreamFunc(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/204":
				w.WriteHeader(204)
			case "/304":
				w.WriteHeader(304)
			default:
				w.Header().Set("Content-Length", "5")
				w.Write([]byte("hello"))
			}
		})
		_, base := serveRouter(t, fe, twoVersions(up.URL, up.URL, 0))
		c := client()
		for _, tc := range []struct {
			method, path string
			code         int
		}{
			{"HEAD", "/", 200}, {"GET", "/204", 204}, {"GET", "/304", 304}, {"GET", "/", 200},
		} {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			req.Header.Set("X-User", "u")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get(DefaultVersionHeader) != "v1" {
				t.Errorf("%s %s: %d stamped %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get(DefaultVersionHeader))
			}
		}
	})
}
