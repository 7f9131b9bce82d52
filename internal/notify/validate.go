package notify

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// FieldError is one problem in a Config, named by its field path inside the
// notifications section ("receivers[1].slack.webhookURL").
type FieldError struct {
	Path string
	Msg  string
}

// Error formats as "path: msg".
func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError lists every problem, so a config is fixed in one pass.
type ValidationError []FieldError

// Error prints one problem per line.
func (v ValidationError) Error() string {
	lines := make([]string, len(v))
	for i, e := range v {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Validate checks the config and returns a ValidationError naming each bad
// field, or nil.
func (c Config) Validate() error {
	var errs ValidationError
	bad := func(p, format string, args ...any) {
		errs = append(errs, FieldError{Path: p, Msg: fmt.Sprintf(format, args...)})
	}
	names := map[string]int{}
	for i, r := range c.Receivers {
		p := fmt.Sprintf("receivers[%d]", i)
		switch {
		case strings.TrimSpace(r.Name) == "":
			bad(p+".name", "required")
		default:
			if j, dup := names[r.Name]; dup {
				bad(p+".name", "%q is already the name of receivers[%d]", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		switch {
		case r.Webhook == nil && r.Slack == nil:
			bad(p, "set one of webhook, slack")
		case r.Webhook != nil && r.Slack != nil:
			bad(p, "set only one of webhook, slack")
		}
		if w := r.Webhook; w != nil {
			if msg := checkURL(w.URL); msg != "" {
				bad(p+".webhook.url", "%s", msg)
			}
			for k, v := range w.Headers {
				hp := fmt.Sprintf("%s.webhook.headers[%q]", p, k)
				if !validHeaderName(k) {
					bad(hp, "not a valid header name")
				} else if !validHeaderValue(v) {
					bad(hp, "value contains a control character")
				}
			}
		}
		if s := r.Slack; s != nil {
			if msg := checkURL(s.WebhookURL); msg != "" {
				bad(p+".slack.webhookURL", "%s", msg)
			}
		}
	}
	for i, rt := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if len(rt.Receivers) == 0 {
			bad(p+".receivers", "required: name at least one receiver")
		}
		for j, n := range rt.Receivers {
			if _, ok := names[n]; !ok {
				bad(fmt.Sprintf("%s.receivers[%d]", p, j), "unknown receiver %q", n)
			}
		}
		checkPatterns(p+".events", rt.Events, bad)
		checkPatterns(p+".rollouts", rt.Rollouts, bad)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func checkPatterns(p string, pats []string, bad func(p, format string, args ...any)) {
	for j, pat := range pats {
		ep := fmt.Sprintf("%s[%d]", p, j)
		if strings.TrimSpace(pat) == "" {
			bad(ep, "empty; leave the list out to match everything")
		} else if _, err := path.Match(pat, ""); err != nil {
			bad(ep, "bad pattern %q: %v", pat, err)
		}
	}
}

// checkURL returns why u is not a usable receiver URL, or "". The URL itself
// is not echoed: for Slack it is a secret that would end up in logs.
func checkURL(u string) string {
	if strings.TrimSpace(u) == "" {
		return "required"
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "not a valid URL"
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return "must be an http or https URL"
	}
	if pu.Host == "" {
		return "has no host"
	}
	return ""
}

// validHeaderName reports whether k is an RFC 9110 token, so a typo in a
// header name is a config error rather than a failed request at 3 a.m.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than tab, which would
// let a value split into a second header.
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
