package spec

import (
	"regexp"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// MaxHeaderRouteHeaders bounds the distinct header names one rollout's
// setHeaderRoute steps may match on (and the matches of one step): the
// router reads them into a fixed array on every request, and Gateway API
// allows 16 header matches per rule.
const MaxHeaderRouteHeaders = 16

// validateHeaderRoute checks one setHeaderRoute step at p. A regular
// expression is compiled here, so a bad one is refused with its position
// rather than by the router later.
func validateHeaderRoute(p path, h v1alpha1.SetHeaderRoute, rs v1alpha1.RolloutSpec) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if rs.Traffic != nil && rs.Traffic.Replicas != nil {
		// The pod ratio cannot look at a request at all.
		add(p, "needs a traffic provider that routes by header: spec.traffic.replicas only sets the pod ratio (use router or gatewayAPI)")
	}
	switch n := h.Name; {
	case n == "":
		add(p.with("name"), "is required: later steps change or remove the route by its name")
	case len(n) > 63 || !dnsLabel.MatchString(n):
		add(p.with("name"), "%q must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", n)
	}
	if len(h.Match) > MaxHeaderRouteHeaders {
		add(p.with("match"), "has %d entries; at most %d", len(h.Match), MaxHeaderRouteHeaders)
	}
	seen := map[string]int{}
	for i, m := range h.Match {
		mp := p.with("match", i)
		switch {
		case m.HeaderName == "":
			add(mp.with("headerName"), "is required")
		case !headerToken.MatchString(m.HeaderName):
			add(mp.with("headerName"), "%q is not a valid header name", m.HeaderName)
		default:
			lower := strings.ToLower(m.HeaderName)
			if j, dup := seen[lower]; dup {
				add(mp.with("headerName"), "%q is already matched by match[%d]: one condition per header", m.HeaderName, j)
			}
			seen[lower] = i
		}
		errs = append(errs, validateStringMatch(mp.with("headerValue"), m.HeaderValue)...)
	}
	return errs
}

// validateStringMatch: exactly one of exact, prefix, regex, not empty; a
// regex must compile.
func validateStringMatch(p path, m v1alpha1.StringMatch) []fieldError {
	var set []string
	for name, v := range map[string]string{"exact": m.Exact, "prefix": m.Prefix, "regex": m.Regex} {
		if v != "" {
			set = append(set, name)
		}
	}
	switch {
	case len(set) == 0:
		return []fieldError{fieldErr(p, "needs exactly one of exact, prefix, regex (not empty); none is set")}
	case len(set) > 1:
		return []fieldError{fieldErr(p, "needs exactly one of exact, prefix, regex; %d are set", len(set))}
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			return []fieldError{fieldErr(p.with("regex"), "%q is not a valid regular expression: %v", m.Regex, strings.TrimPrefix(err.Error(), "error parsing regexp: "))}
		}
	}
	return nil
}

// validateHeaderRouteNames bounds the distinct header names of all of a
// canary's setHeaderRoute steps (see MaxHeaderRouteHeaders).
func validateHeaderRouteNames(p path, steps []v1alpha1.Step) []fieldError {
	names := map[string]bool{}
	for i, s := range steps {
		if s.SetHeaderRoute == nil {
			continue
		}
		for _, m := range s.SetHeaderRoute.Match {
			names[strings.ToLower(m.HeaderName)] = true
		}
		if len(names) > MaxHeaderRouteHeaders {
			return []fieldError{fieldErr(p.with(i, "setHeaderRoute"), "brings the header names the steps match on to %d; at most %d", len(names), MaxHeaderRouteHeaders)}
		}
	}
	return nil
}
