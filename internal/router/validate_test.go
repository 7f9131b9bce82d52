package router

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// validConfig is a small table that passes Validate; tests break one field.
func validConfig() Config {
	return Config{
		Routes: []Route{{Host: "shop.example.com", PathPrefix: "/", Release: "shop"}},
		Releases: []Release{{
			Name:         "shop",
			Stable:       Backend{Revision: "v1", Endpoints: []string{"http://127.0.0.1:9001"}},
			Canary:       &Backend{Revision: "v2", Endpoints: []string{"http://127.0.0.1:9002"}},
			Baseline:     &Backend{Revision: "v1", Endpoints: []string{"http://127.0.0.1:9003"}},
			CanaryWeight: percent(10), BaselineWeight: percent(10),
		}},
	}
}

func TestValidateAcceptsGoodConfig(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := validConfig().WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblemWithPath(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want []string // each must appear, as "path: message"
	}{
		{"canary above 100", func(c *Config) { c.Releases[0].CanaryWeight = percent(101) }, []string{"releases[0].canaryWeight: 101 is above 100%"}},
		{"sum above 100", func(c *Config) { c.Releases[0].CanaryWeight, c.Releases[0].BaselineWeight = percent(60), percent(50) },
			[]string{"releases[0].canaryWeight + baselineWeight: 60% + 50% is above 100%"}},
		{"sum exactly 100 is fine", func(c *Config) { c.Releases[0].CanaryWeight, c.Releases[0].BaselineWeight = percent(50), percent(50) }, nil},
		{"canary weight without canary", func(c *Config) { c.Releases[0].Canary = nil }, []string{"releases[0].canaryWeight: 10% needs a canary backend"}},
		{"baseline weight without baseline", func(c *Config) { c.Releases[0].Baseline = nil }, []string{"releases[0].baselineWeight: 10% needs a baseline backend"}},
		{"unknown release", func(c *Config) { c.Routes = append(c.Routes, Route{Release: "x"}) }, []string{`routes[1].release: no release named "x"`}},
		{"route without release", func(c *Config) { c.Routes[0].Release = "" }, []string{"routes[0].release: required"}},
		{"duplicate release", func(c *Config) { c.Releases = append(c.Releases, c.Releases[0]) }, []string{`releases[1].name: "shop" is already the name of releases[0]`}},
		{"relative endpoint", func(c *Config) { c.Releases[0].Stable.Endpoints = []string{"127.0.0.1:9001"} }, []string{"releases[0].stable.endpoints[0]: "}},
		{"ftp endpoint", func(c *Config) { c.Releases[0].Canary.Endpoints = []string{"ftp://h/"} }, []string{"releases[0].canary.endpoints[0]: \"ftp://h/\" must be an absolute http:// or https:// URL"}},
		{"no endpoints", func(c *Config) { c.Releases[0].Stable.Endpoints = nil }, []string{"releases[0].stable.endpoints: at least one endpoint is required"}},
		{"no revision", func(c *Config) { c.Releases[0].Canary.Revision = "" }, []string{"releases[0].canary.revision: required"}},
		{"bad host", func(c *Config) { c.Routes[0].Host = "shop.*.com" }, []string{"routes[0].host: "}},
		{"host with port", func(c *Config) { c.Routes[0].Host = "shop.example.com:80" }, []string{"routes[0].host: "}},
		{"wildcard ok", func(c *Config) { c.Routes[0].Host = "*.example.com" }, nil},
		{"path prefix", func(c *Config) { c.Routes[0].PathPrefix = "api" }, []string{`routes[0].pathPrefix: "api" must start with "/"`}},
		{"duplicate route", func(c *Config) { c.Routes = append(c.Routes, c.Routes[0]) }, []string{"routes[1]: same host and pathPrefix as routes[0]"}},
		{"bad header", func(c *Config) { c.VersionHeader = "X Version" }, []string{"versionHeader: "}},
		{"negative timeout", func(c *Config) { c.Timeouts.Dial = v1alpha1.Duration(-time.Second) }, []string{"timeouts.dial: -1s is negative"}},
		{"bad listen", func(c *Config) { c.Listen = "8080" }, []string{"listen: "}},
		{"two problems at once", func(c *Config) { c.Releases[0].CanaryWeight = percent(101); c.Routes[0].Release = "nope" },
			[]string{"releases[0].canaryWeight: 101 is above 100%", `routes[0].release: no release named "nope"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			var ve ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %T %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(ve) < len(tc.want) {
				t.Errorf("want %d problems, got %d: %v", len(tc.want), len(ve), err)
			}
		})
	}
}

func TestWithDefaultsFillsOnlyUnset(t *testing.T) {
	c := validConfig()
	c.VersionHeader = "X-Rev"
	d := c.WithDefaults()
	if d.VersionHeader != "X-Rev" || d.UpstreamVersionHeader != DefaultVersionHeader {
		t.Errorf("headers: %q %q", d.VersionHeader, d.UpstreamVersionHeader)
	}
	if d.Key.StickyCookie != DefaultStickyCookie || d.Timeouts.Shutdown != DefaultShutdown || d.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("defaults not applied: %+v", d)
	}
	if d.Releases[0].Health.EjectAfter != DefaultEjectAfter {
		t.Errorf("health default not applied")
	}
	if c.Releases[0].Health.EjectAfter != 0 {
		t.Errorf("WithDefaults changed the caller's releases")
	}
}

func TestDurationJSON(t *testing.T) {
	var tm Timeouts
	if err := json.Unmarshal([]byte(`{"dial":"250ms","idle":"1m30s"}`), &tm); err != nil {
		t.Fatal(err)
	}
	if tm.Dial.D() != 250*time.Millisecond || tm.Idle.D() != 90*time.Second {
		t.Fatalf("got %+v", tm)
	}
	b, _ := json.Marshal(tm)
	if !strings.Contains(string(b), `"dial":"250ms"`) || !strings.Contains(string(b), `"idle":"1m30s"`) {
		t.Fatalf("marshal: %s", b)
	}
	for _, bad := range []string{`{"dial":5}`, `{"dial":"5"}`, `{"dial":"soon"}`} {
		if err := json.Unmarshal([]byte(bad), &tm); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
