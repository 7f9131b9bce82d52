package traffic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// The Lease each router replica (`kanaria router --kubernetes`) keeps in its
// own namespace is how the controller learns what the replicas applied: the
// router provider's Observe reads every live one. Both sides use the names
// and the report type below, so the format has one home; routersync imports
// it from here (imports point inward: this package knows nothing of the
// router's Kubernetes mode).
const (
	// RouterLeasePrefix begins every router replica's Lease name:
	// RouterLeasePrefix + the replica's id.
	RouterLeasePrefix = "kanaria-router-"
	// RouterComponentLabel is set to RouterComponent on every router Lease,
	// so the controller lists them with one label selector.
	RouterComponentLabel = "kanaria.dev/component"
	// RouterComponent is RouterComponentLabel's value on router Leases.
	RouterComponent = "router"
	// RouterReportAnnotation holds the replica's RouterReport as JSON.
	RouterReportAnnotation = "kanaria.dev/router-report"
)

// RouterLeaseName is the name of the Lease of the router replica with this
// id. The id becomes part of an object name, so it must be a DNS label (the
// pod name, as `--id` defaults to the hostname).
func RouterLeaseName(id string) string { return RouterLeasePrefix + id }

// RouterReport is what one router replica serves, published after every
// routing table it swapped in. A replica that stops renewing its Lease is no
// longer counted, whatever its report says.
type RouterReport struct {
	// AdminURL is where the replica's admin API answers (its telemetry, for an
	// analysis that merges the samples of every replica); empty when the
	// admin API is off.
	AdminURL string `json:"adminURL,omitempty"`
	// Rollouts holds what is applied per rollout, keyed by RolloutKey. A
	// rollout missing here is not served by this replica (yet).
	Rollouts map[string]AppliedTraffic `json:"rollouts"`
}

// AppliedTraffic is one rollout's traffic as a router replica applied it:
// the status.traffic the controller wrote, as far as the replica took it.
type AppliedTraffic struct {
	// Generation is the status.traffic generation the replica applied; the
	// router provider counts a replica only once it reports the generation
	// the controller last wrote, so old weights that happen to be equal to
	// the new ones are never taken for a read-back.
	Generation int64 `json:"generation"`
	// StableRevision, CanaryRevision and BaselineRevision are the revisions
	// the replica routes to (empty: no canary, no baseline).
	StableRevision   string `json:"stableRevision"`
	CanaryRevision   string `json:"canaryRevision,omitempty"`
	BaselineRevision string `json:"baselineRevision,omitempty"`
	// Canary and Baseline are the weights in the swapped-in table.
	Canary   v1alpha1.Weight `json:"canary"`
	Baseline v1alpha1.Weight `json:"baseline"`
	// Endpoints counts the ready addresses per role ("stable", "canary",
	// "baseline") the replica had when it applied the table, so a person
	// reading the Lease sees a canary with weight but no pods.
	Endpoints map[string]int `json:"endpoints,omitempty"`
}

// The Secret the router replicas and the controller share, in the
// replicas' namespace: the admin API's bearer token under
// RouterAdminTokenKey. The replicas create it when it is missing; the
// controller reads it to ask each replica for its samples.
const (
	DefaultRouterAdminSecret = "kanaria-router-admin"
	RouterAdminTokenKey      = "token"
)

// RolloutKey is the key of a rollout in RouterReport.Rollouts:
// "namespace/name", as Kubernetes writes object keys.
func RolloutKey(namespace, name string) string { return namespace + "/" + name }

// RouterReleaseName is the name of a rollout's release in a router
// replica's table, and so in its admin API (AdminURL +
// /v1/releases/<name>/...) and in its metrics' release label, where an
// analysis finds the rollout's samples. Release names allow no "/", and a
// namespace name has no ".", so "<namespace>.<name>" is unambiguous.
func RouterReleaseName(namespace, name string) string { return namespace + "." + name }

// MarshalRouterReport renders r as the value of RouterReportAnnotation.
func MarshalRouterReport(r RouterReport) (string, error) {
	if r.Rollouts == nil {
		r.Rollouts = map[string]AppliedTraffic{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("router report: %w", err)
	}
	return string(b), nil
}

// ParseRouterReport reads the RouterReportAnnotation of a router Lease's
// annotations. A Lease without one reports nothing applied (a replica that
// has not swapped in its first table).
func ParseRouterReport(annotations map[string]string) (RouterReport, error) {
	v, ok := annotations[RouterReportAnnotation]
	if !ok || strings.TrimSpace(v) == "" {
		return RouterReport{Rollouts: map[string]AppliedTraffic{}}, nil
	}
	var r RouterReport
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return RouterReport{}, fmt.Errorf("annotation %s: %w", RouterReportAnnotation, err)
	}
	for k, a := range r.Rollouts {
		if err := a.Canary.Validate(); err != nil {
			return RouterReport{}, fmt.Errorf("annotation %s: %s: canary weight %w", RouterReportAnnotation, k, err)
		}
		if err := a.Baseline.Validate(); err != nil {
			return RouterReport{}, fmt.Errorf("annotation %s: %s: baseline weight %w", RouterReportAnnotation, k, err)
		}
		if a.Canary+a.Baseline > v1alpha1.PPM {
			return RouterReport{}, fmt.Errorf("annotation %s: %s: canary %s and baseline %s exceed 100%%", RouterReportAnnotation, k, a.Canary, a.Baseline)
		}
	}
	if r.Rollouts == nil {
		r.Rollouts = map[string]AppliedTraffic{}
	}
	return r, nil
}
