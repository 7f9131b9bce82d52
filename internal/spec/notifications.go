package spec

import (
	"fmt"
	"net/url"
	goPath "path"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// ValidateNotifications checks a notifications section on its own, for a
// notifier built from a config that did not come through Parse. Each line of
// the error is "field path: problem", the path relative to the section
// ("receivers[1].slack.webhookURL").
func ValidateNotifications(n v1alpha1.Notifications) error {
	fes := validateNotifications(nil, &n)
	if len(fes) == 0 {
		return nil
	}
	msgs := make([]string, len(fes))
	for i, fe := range fes {
		msgs[i] = strings.TrimPrefix(fe.path.String(), ".") + ": " + fe.msg
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// validateNotifications checks spec.notifications: unique receiver names,
// exactly one destination each, usable URLs and headers, routes that name
// known receivers and valid patterns.
func validateNotifications(p path, n *v1alpha1.Notifications) []fieldError {
	if n == nil {
		return nil
	}
	var errs []fieldError
	bad := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	names := map[string]int{}
	for i, r := range n.Receivers {
		rp := p.with("receivers", i)
		switch {
		case strings.TrimSpace(r.Name) == "":
			bad(rp.with("name"), "required")
		default:
			if j, dup := names[r.Name]; dup {
				bad(rp.with("name"), "%q is already the name of receivers[%d]", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		switch {
		case r.Webhook == nil && r.Slack == nil:
			bad(rp, "set one of webhook, slack")
		case r.Webhook != nil && r.Slack != nil:
			bad(rp, "set only one of webhook, slack")
		}
		if w := r.Webhook; w != nil {
			if msg := checkReceiverURL(w.URL); msg != "" {
				bad(rp.with("webhook", "url"), "%s", msg)
			}
			for _, k := range sortedKeys(w.Headers) {
				hp := rp.with("webhook", "headers", k)
				if !headerToken.MatchString(k) {
					bad(hp, "%q is not a valid header name", k)
				} else if !validHeaderValue(w.Headers[k]) {
					bad(hp, "value contains a control character")
				}
			}
		}
		if s := r.Slack; s != nil {
			if msg := checkReceiverURL(s.WebhookURL); msg != "" {
				bad(rp.with("slack", "webhookURL"), "%s", msg)
			}
		}
	}
	for i, rt := range n.Routes {
		rp := p.with("routes", i)
		if len(rt.Receivers) == 0 {
			bad(rp.with("receivers"), "required: name at least one receiver")
		}
		for j, name := range rt.Receivers {
			if _, ok := names[name]; !ok {
				bad(rp.with("receivers", j), "unknown receiver %q", name)
			}
		}
		errs = append(errs, checkPatterns(rp.with("events"), rt.Events)...)
		errs = append(errs, checkPatterns(rp.with("rollouts"), rt.Rollouts)...)
	}
	return errs
}

// checkPatterns refuses empty and malformed shell globs in a route.
func checkPatterns(p path, pats []string) []fieldError {
	var errs []fieldError
	for j, pat := range pats {
		switch _, err := goPath.Match(pat, ""); {
		case strings.TrimSpace(pat) == "":
			errs = append(errs, fieldErr(p.with(j), "empty; leave the list out to match everything"))
		case err != nil:
			errs = append(errs, fieldErr(p.with(j), "bad pattern %q: %v", pat, err))
		}
	}
	return errs
}

// checkReceiverURL returns why u is not a usable receiver URL, or "". The
// URL itself is not echoed: for Slack it is a secret that would end up in
// logs.
func checkReceiverURL(u string) string {
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
