package platform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Static points at revisions that already run elsewhere (existing hosts or
// VMs): it starts, stops and logs nothing, and declares no capability.
//
// It does not probe the endpoints: a configured revision is reported Ready
// with its configured endpoints, since kanaria does not own those hosts and
// the router's own error counts show a dead one. Baseline copies cannot
// exist (nothing can be started), so Ensure refuses them.
type Static struct {
	revisions map[string][]string
}

// NewStatic returns the platform for a spec's static revisions.
func NewStatic(sp v1alpha1.StaticPlatform) *Static {
	revs := make(map[string][]string, len(sp.Revisions))
	for rev, urls := range sp.Revisions {
		clean := make([]string, 0, len(urls))
		for _, u := range urls {
			// "http://host:8080/" and "http://host:8080" are one endpoint;
			// the router joins paths onto the base.
			clean = append(clean, strings.TrimRight(u, "/"))
		}
		revs[rev] = clean
	}
	return &Static{revisions: revs}
}

// Capabilities is empty: Static only looks endpoints up.
func (s *Static) Capabilities() []Capability { return nil }

// Ensure checks that the revision is configured; it starts nothing.
func (s *Static) Ensure(_ context.Context, in Instance) error {
	if in.Baseline {
		return fmt.Errorf("static platform cannot run a baseline copy of %s (it starts nothing); turn off baseline for rollout %s", in.Revision, in.Rollout)
	}
	if len(s.revisions[in.Revision]) == 0 {
		return fmt.Errorf("static platform of rollout %s has no endpoints for revision %q (configured: %s)",
			in.Rollout, in.Revision, strings.Join(s.known(), ", "))
	}
	return nil
}

// Stop does nothing: the endpoints are not kanaria's to stop. It succeeds
// so that ending a release works the same on every platform; callers that
// care check Has(p, CanStop).
func (s *Static) Stop(context.Context, Instance) error { return nil }

// State reports a configured revision as Ready with its endpoints; ok is
// false for an unknown revision or a baseline copy.
func (s *Static) State(in Instance) (State, bool) {
	eps := s.revisions[in.Revision]
	if in.Baseline || len(eps) == 0 {
		return State{}, false
	}
	return State{Endpoints: append([]string(nil), eps...), Ready: true}, true
}

// Close does nothing: Static started nothing.
func (s *Static) Close(context.Context) error { return nil }

// known lists the configured revisions, sorted, for error messages.
func (s *Static) known() []string {
	out := make([]string, 0, len(s.revisions))
	for rev := range s.revisions {
		out = append(out, rev)
	}
	sort.Strings(out)
	return out
}
