package router

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseRoutes: Parse never panics, and whatever it accepts is a valid
// table that survives the admin API's JSON round trip unchanged.
func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte(goodRoutes))
	f.Add([]byte("releases:\n  - name: a\n    stable: {revision: v1, endpoints: [\"http://127.0.0.1:1\"]}\n"))
	f.Add([]byte("timeouts: {dial: 1s, idle: 0}\nroutes: []\nreleases: []\n"))
	f.Add([]byte("key: {header: a\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate refuses: %v", err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalize(c), normalize(back)) {
			t.Fatalf("JSON round trip changed the config:\n%+v\n%+v", c, back)
		}
	})
}

// normalize maps empty slices to nil: JSON cannot tell them apart and the
// router does not either.
func normalize(c Config) Config {
	if len(c.Routes) == 0 {
		c.Routes = nil
	}
	if len(c.Releases) == 0 {
		c.Releases = nil
	}
	for i := range c.Releases {
		r := &c.Releases[i]
		for _, b := range []*Backend{&r.Stable, r.Canary, r.Baseline} {
			if b != nil && len(b.Endpoints) == 0 {
				b.Endpoints = nil
			}
		}
	}
	return c
}
