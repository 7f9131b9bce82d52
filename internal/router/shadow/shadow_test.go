package shadow

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func jsonResp(body string) *Response {
	return &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func mustComparer(t *testing.T, cfg Config) *Comparer {
	t.Helper()
	c, err := NewComparer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiff(t *testing.T) {
	c := mustComparer(t, Config{Headers: []string{"content-type"}, Ignore: []string{"meta.requestId", "items[].seen"}})
	cases := []struct {
		name string
		a, b *Response
		want string
	}{
		{"same", jsonResp(`{"a":1,"b":[1,2]}`), jsonResp(`{ "b":[1,2], "a":1.0 }`), ""},
		{"changed field in array", jsonResp(`{"items":[{"id":1,"price":10},{"id":2,"price":20}]}`),
			jsonResp(`{"items":[{"id":1,"price":10},{"id":2,"price":21}]}`), "json items[].price"},
		{"reordered array", jsonResp(`{"items":[{"id":1,"n":"a"},{"id":2,"n":"b"}]}`),
			jsonResp(`{"items":[{"id":2,"n":"b"},{"id":1,"n":"a"}]}`), "json items[].id,json items[].n"},
		{"missing and extra keys", jsonResp(`{"a":1,"b":2}`), jsonResp(`{"a":1,"c":2}`), "json b,json c"},
		{"shorter array", jsonResp(`[1,2,3]`), jsonResp(`[1,2]`), "json $[]"},
		{"type change", jsonResp(`{"a":{"x":1}}`), jsonResp(`{"a":"x"}`), "json a"},
		{"ignored", jsonResp(`{"meta":{"requestId":"x1"},"items":[{"seen":1}]}`), jsonResp(`{"meta":{"requestId":"y2"},"items":[{"seen":2}]}`), ""},
		{"status", &Response{Status: 200}, &Response{Status: 500}, "status"},
		{"header", &Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}}, &Response{Status: 200, Header: http.Header{"Content-Type": {"text/html"}}}, "header Content-Type"},
		{"text body by hash", &Response{Status: 200, Body: []byte("hello")}, &Response{Status: 200, Body: []byte("hellp")}, "body"},
		{"no answer", &Response{Status: 200, Body: []byte("x")}, &Response{Err: "connection refused"}, "status"},
		{"truncated body not compared", &Response{Status: 200, Body: []byte("x"), Truncated: true}, &Response{Status: 200, Body: []byte("y")}, ""},
	}
	for _, tc := range cases {
		var got []string
		for _, f := range c.Diff(tc.a, tc.b) {
			got = append(got, f.String())
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("%s: diff %q, want %q", tc.name, g, tc.want)
		}
	}
}

// A field that differs between the two copies of stable as often as
// between stable and the canary is noise; one the canary alone changes is
// significant.
func TestCollectorTellsNoiseFromDifferences(t *testing.T) {
	c := NewCollector(mustComparer(t, Config{}), Revisions{Primary: "v1", Candidate: "v2", Secondary: "v1"}, time.Unix(0, 0))
	for i := range 200 {
		req := &Request{Method: "GET", Target: fmt.Sprintf("/orders/%d?x=1", i)}
		p := jsonResp(fmt.Sprintf(`{"ts":%d,"total":10}`, i))
		cand := jsonResp(fmt.Sprintf(`{"ts":%d,"total":11}`, i+1))
		sec := jsonResp(fmt.Sprintf(`{"ts":%d,"total":10}`, i+2))
		c.Add(req, p, cand, sec)
	}
	rep := c.Report()
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Endpoint != "GET /orders/{id}" || rep.Samples != 200 {
		t.Fatalf("endpoints %+v", rep.Endpoints)
	}
	fields := map[string]FieldReport{}
	for _, f := range rep.Endpoints[0].Fields {
		fields[f.Field.String()] = f
	}
	total, ts := fields["json total"], fields["json ts"]
	if !total.Significant || total.CandidateRate != 1 || total.NoiseRate != 0 {
		t.Errorf("total: %+v", total)
	}
	if ts.Significant || ts.CandidateRate != 1 || ts.NoiseRate != 1 {
		t.Errorf("ts (noise): %+v", ts)
	}
	if rep.DifferenceAboveNoise != 1 {
		t.Errorf("difference above noise %g", rep.DifferenceAboveNoise)
	}
	if len(total.Examples) != MaxExamples {
		t.Errorf("%d examples", len(total.Examples))
	}
}

func TestThresholds(t *testing.T) {
	c := mustComparer(t, Config{AbsoluteThreshold: 0.05, RelativeThreshold: 0.5})
	for _, tc := range []struct {
		cand, noise float64
		want        bool
	}{{0.04, 0, false}, {0.05, 0, true}, {0.3, 0.2, false}, {0.31, 0.2, true}, {0.5, 0.4, false}, {0, 0, false}} {
		if got := c.Significant(tc.cand, tc.noise); got != tc.want {
			t.Errorf("Significant(%g, %g) = %v", tc.cand, tc.noise, got)
		}
	}
	if _, err := NewComparer(Config{AbsoluteThreshold: 2}); err == nil {
		t.Error("absoluteThreshold 2 accepted")
	}
}

func TestExamplesRedacted(t *testing.T) {
	cfg := v1alpha1.MirrorCompare{RedactHeaders: []string{"x-api-key"}, RedactCookies: []string{"session"}}
	c := NewCollector(mustComparer(t, cfg), Revisions{}, time.Unix(0, 0))
	req := &Request{Method: "GET", Target: "/a", Header: http.Header{
		"Authorization": {"Bearer secret1"}, "X-Api-Key": {"secret2"}, "Cookie": {"theme=dark; session=secret3"}, "Accept": {"*/*"}}}
	p := &Response{Status: 200, Header: http.Header{"Set-Cookie": {"session=secret4"}}, Body: []byte("a")}
	c.Add(req, p, &Response{Status: 500, Body: []byte("b")}, nil)
	ex := c.Report().Endpoints[0].Fields[0].Examples[0]
	s := fmt.Sprintf("%+v", ex)
	for _, secret := range []string{"secret1", "secret2", "secret3", "secret4"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s in example %s", secret, s)
		}
	}
	if got := ex.Header["Cookie"][0]; got != "theme=dark; session=[redacted]" {
		t.Errorf("cookie %q", got)
	}
	if ex.Header["Accept"][0] != "*/*" {
		t.Errorf("accept %v", ex.Header["Accept"])
	}
}

func TestEndpointAndBounds(t *testing.T) {
	for in, want := range map[string]string{
		"/users/42/orders?page=2":                     "GET /users/{id}/orders",
		"/items/3f2c9a1e-7b4d-4c1a-9e2f-0a1b2c3d4e5f": "GET /items/{id}",
		"/static/app.js":                              "GET /static/app.js",
		"":                                            "GET /",
		"/v1/search":                                  "GET /v1/search",
	} {
		if got := Endpoint("GET", in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
	c := NewCollector(mustComparer(t, Config{}), Revisions{}, time.Unix(0, 0))
	for i := range MaxEndpoints + 50 {
		c.Add(&Request{Method: "GET", Target: fmt.Sprintf("/p%c%c", 'a'+i%26, 'a'+i/26)}, &Response{Status: 200}, &Response{Status: 201}, nil)
	}
	if n := len(c.Report().Endpoints); n != MaxEndpoints+1 {
		t.Errorf("%d endpoints kept, want %d and %s", n, MaxEndpoints, OtherEndpoint)
	}
}
