package traffic

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// headerRules are the rules a's header routes add beside the managed rules
// (already rewritten with a's backendRefs): for each route and each managed
// rule, a copy of the rule's matches with the route's headers added, its
// filters, and the canary's backendRef alone. canary is the canary's
// Service ("" without a canary, when a has no header routes either).
func headerRules(a Assignment, managed []gatewayv1.HTTPRouteRule, canary string) ([]gatewayv1.HTTPRouteRule, error) {
	var out []gatewayv1.HTTPRouteRule
	for _, h := range a.HeaderRoutes {
		headers, err := headerMatches(h)
		if err != nil {
			return nil, err
		}
		for k, rule := range managed {
			name := fmt.Sprintf("kanaria-%s-%s-%d", strings.ReplaceAll(a.Rollout, ".", "-"), h.Name, k)
			if len(name) > 253 {
				return nil, fmt.Errorf("header route %s: rule name %q is longer than Gateway API's 253 characters", h.Name, name)
			}
			var ref *gatewayv1.HTTPBackendRef
			for i := range rule.BackendRefs {
				if string(rule.BackendRefs[i].Name) == canary {
					ref = rule.BackendRefs[i].DeepCopy()
				}
			}
			if ref == nil {
				return nil, fmt.Errorf("header route %s: no canary backendRef to send it to", h.Name)
			}
			one := int32(1)
			ref.Weight = &one
			r := gatewayv1.HTTPRouteRule{
				Name:        ptrTo(gatewayv1.SectionName(name)),
				Filters:     slices.Clone(rule.Filters),
				BackendRefs: []gatewayv1.HTTPBackendRef{*ref},
			}
			matches := rule.Matches
			if len(matches) == 0 { // Gateway API's default: every path
				prefix, root := gatewayv1.PathMatchPathPrefix, "/"
				matches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &root}}}
			}
			for _, m := range matches {
				m = *m.DeepCopy()
				m.Headers = append(m.Headers, headers...)
				r.Matches = append(r.Matches, m)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// headerMatches is h's match as Gateway API header matches. Gateway API has
// no prefix match: a prefix becomes the regular expression ^<quoted>.*.
// Regular expressions are implementation-specific in Gateway API; Go's RE2
// syntax is what most Gateways (Envoy) accept.
func headerMatches(h v1alpha1.SetHeaderRoute) ([]gatewayv1.HTTPHeaderMatch, error) {
	var out []gatewayv1.HTTPHeaderMatch
	for _, m := range h.Match {
		exact, re := gatewayv1.HeaderMatchExact, gatewayv1.HeaderMatchRegularExpression
		hm := gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(m.HeaderName)}
		switch v := m.HeaderValue; {
		case v.Exact != "":
			hm.Type, hm.Value = &exact, v.Exact
		case v.Prefix != "":
			hm.Type, hm.Value = &re, "^"+regexp.QuoteMeta(v.Prefix)+".*"
		case v.Regex != "":
			hm.Type, hm.Value = &re, v.Regex
		default:
			return nil, fmt.Errorf("header route %s: header %s has no value to match", h.Name, m.HeaderName)
		}
		out = append(out, hm)
	}
	return out, nil
}

// withoutRules drops the rules named in names.
func withoutRules(rules []gatewayv1.HTTPRouteRule, names []string) []gatewayv1.HTTPRouteRule {
	return slices.DeleteFunc(rules, func(r gatewayv1.HTTPRouteRule) bool { return isRule(r, names) })
}

// isRule: the rule has one of the names.
func isRule(r gatewayv1.HTTPRouteRule, names []string) bool {
	return r.Name != nil && slices.Contains(names, string(*r.Name))
}

// checkHeaderRules reads a's header routes back from the route as stored:
// its header rules must be those a asks for, built from the stored managed
// rules.
func checkHeaderRules(stored *gatewayv1.HTTPRoute, a Assignment) error {
	all, err := readRoles(stored)
	if err != nil {
		return err
	}
	roles := all[a.Rollout]
	var managed, got []gatewayv1.HTTPRouteRule
	for _, r := range stored.Spec.Rules {
		switch {
		case isRule(r, roles.HeaderRules):
			got = append(got, r)
		case namesAny(r.BackendRefs, stored.Namespace, roles.Services):
			managed = append(managed, r)
		}
	}
	want, err := headerRules(a, managed, roles.Canary)
	if err != nil {
		return err
	}
	jw, _ := json.Marshal(want)
	jg, _ := json.Marshal(got)
	if string(jw) != string(jg) {
		return fmt.Errorf("read back header rules %s after writing %s", jg, jw)
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
