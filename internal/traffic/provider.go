package traffic

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Capability is something a provider does; callers check the declared list.
type Capability string

// Capabilities a provider may declare.
const (
	// Sticky: a user keeps the side they were on while the weight grows (the
	// canary's range only grows), on every replica of the data plane.
	Sticky Capability = "Sticky"
	// ExactPPM: every weight is honoured to the part per million (0.1 % is
	// 0.1 %), and Observe reads back exactly the weight that was set.
	ExactPPM Capability = "ExactPPM"
	// Overrides: a tester can force a version with a header or a cookie.
	Overrides Capability = "Overrides"
	// VersionStamps: responses say which revision served them.
	VersionStamps Capability = "VersionStamps"
	// HeaderRoutes: requests matching headers can be sent to the canary.
	HeaderRoutes Capability = "HeaderRoutes"
	// Approximate: the weight can only be approached (whole pods), so
	// Observe reports the share achieved, which differs from the weight asked
	// for; a caller must not wait for the two to be equal, and should show
	// the provider's Explain line to the user.
	Approximate Capability = "Approximate"
)

// Backend is one side of a rollout's traffic: a revision and where it
// answers. Endpoints are the platform's, for Kubernetes the URLs of the
// role's Service (http://<service>.<namespace>.svc:<port>).
type Backend struct {
	Revision  string
	Endpoints []string
}

// Assignment is the traffic a rollout should get: everything not given to
// the canary and the baseline goes to stable.
type Assignment struct {
	Namespace, Rollout string
	Stable             Backend
	// Canary and Baseline are nil when they do not run; their weights must
	// then be 0.
	Canary, Baseline *Backend
	Weights          v1alpha1.Weights
	// HeaderRoutes send matching requests to the canary whatever the
	// weights; only with a canary, and only for a provider that declares
	// HeaderRoutes.
	HeaderRoutes []v1alpha1.SetHeaderRoute
}

// Endpoints lists the endpoints of every backend of the assignment, at
// any weight: what users may be sent to once it is read back.
func (a Assignment) Endpoints() []string {
	out := append([]string(nil), a.Stable.Endpoints...)
	for _, b := range []*Backend{a.Canary, a.Baseline} {
		if b != nil {
			out = append(out, b.Endpoints...)
		}
	}
	return out
}

// Validate refuses an assignment no provider could carry out: a backend
// without endpoints, weights above 100 % together, or a weight for a
// backend that is not there.
func (a Assignment) Validate() error {
	if a.Namespace == "" || a.Rollout == "" {
		return fmt.Errorf("traffic assignment without a namespace and a rollout name")
	}
	for _, b := range []struct {
		role string
		b    *Backend
	}{{"stable", &a.Stable}, {"canary", a.Canary}, {"baseline", a.Baseline}} {
		// Every backend says where it answers, even at weight 0: the
		// router serves overrides to it, and the other providers name
		// its Service.
		if b.b != nil && len(b.b.Endpoints) == 0 {
			return fmt.Errorf("rollout %s/%s: %s revision %q has no endpoints", a.Namespace, a.Rollout, b.role, b.b.Revision)
		}
	}
	w := a.Weights
	if err := w.CanaryPPM.Validate(); err != nil {
		return fmt.Errorf("rollout %s/%s: canary weight %w", a.Namespace, a.Rollout, err)
	}
	if err := w.BaselinePPM.Validate(); err != nil {
		return fmt.Errorf("rollout %s/%s: baseline weight %w", a.Namespace, a.Rollout, err)
	}
	if w.CanaryPPM+w.BaselinePPM > v1alpha1.PPM {
		return fmt.Errorf("rollout %s/%s: canary %s and baseline %s exceed 100%%", a.Namespace, a.Rollout, w.CanaryPPM, w.BaselinePPM)
	}
	if a.Canary == nil && w.CanaryPPM > 0 {
		return fmt.Errorf("rollout %s/%s: canary weight %s but no canary", a.Namespace, a.Rollout, w.CanaryPPM)
	}
	if a.Baseline == nil && w.BaselinePPM > 0 {
		return fmt.Errorf("rollout %s/%s: baseline weight %s but no baseline", a.Namespace, a.Rollout, w.BaselinePPM)
	}
	if a.Canary == nil && len(a.HeaderRoutes) > 0 {
		return fmt.Errorf("rollout %s/%s: header route %s but no canary", a.Namespace, a.Rollout, a.HeaderRoutes[0].Name)
	}
	return nil
}

// Provider makes weights real and reads them back.
type Provider interface {
	// Capabilities lists what this provider does.
	Capabilities() []Capability
	// Set makes a the rollout's traffic. It is idempotent: setting the same
	// assignment twice changes nothing the second time.
	Set(ctx context.Context, a Assignment) error
	// Observe reads back the weights in effect for the rollout; ok is false
	// while they are not known or not settled (not applied everywhere yet).
	Observe(ctx context.Context, namespace, rollout string) (w v1alpha1.Weights, ok bool, err error)
}

// Explainer is implemented by providers whose read-back needs words: an
// Approximate one says what it achieved against what was asked, for the
// Rollout's status ("1 of 4 pods = 25 %, asked 10 %").
type Explainer interface {
	// Explain describes the traffic in effect in one line; "" when there is
	// nothing to say.
	Explain(ctx context.Context, namespace, rollout string) (string, error)
}

// Quantizer is implemented by providers whose weights are coarser than a
// part per million (ELB's whole weights 0–999): Honoured is the weight
// Observe reads back once w is in effect, so a caller compares the
// read-back with it rather than with w, and shows both.
type Quantizer interface {
	Honoured(w v1alpha1.Weights) v1alpha1.Weights
}

// Has reports whether p declares c.
func Has(p Provider, c Capability) bool { return slices.Contains(p.Capabilities(), c) }

// ServiceRef is a Service named by a Kubernetes platform endpoint.
type ServiceRef struct {
	Name, Namespace string
	Port            int32
}

// ParseServiceURL reads a Kubernetes platform endpoint,
// http://<service>.<namespace>.svc:<port> (also with ".svc.cluster.local",
// or without the port: 80), as the Service it names. Only Services carry
// traffic in a cluster, so any other URL is an error.
func ParseServiceURL(endpoint string) (ServiceRef, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ServiceRef{}, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return ServiceRef{}, fmt.Errorf("endpoint %q is not a Service URL (http://<service>.<namespace>.svc:<port>)", endpoint)
	}
	host := strings.TrimSuffix(u.Hostname(), ".cluster.local")
	parts := strings.Split(host, ".")
	if len(parts) != 3 || parts[2] != "svc" || parts[0] == "" || parts[1] == "" {
		return ServiceRef{}, fmt.Errorf("endpoint %q is not a Service URL (http://<service>.<namespace>.svc:<port>)", endpoint)
	}
	port := int64(80)
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseInt(p, 10, 32); err != nil || port < 1 || port > 65535 {
			return ServiceRef{}, fmt.Errorf("endpoint %q: port %q is not a port number", endpoint, p)
		}
	}
	return ServiceRef{Name: parts[0], Namespace: parts[1], Port: int32(port)}, nil
}

// CheckCapable refuses an assignment p cannot carry out: header routes for
// a provider that does not declare HeaderRoutes (spec validation refuses
// them for such a provider already; this is the provider's own word).
func CheckCapable(p Provider, a Assignment) error {
	if len(a.HeaderRoutes) > 0 && !Has(p, HeaderRoutes) {
		return fmt.Errorf("rollout %s/%s: header route %s: this traffic provider cannot route by header", a.Namespace, a.Rollout, a.HeaderRoutes[0].Name)
	}
	return nil
}

// backendService is the one Service behind a Backend in namespace ns:
// a Kubernetes platform gives each role exactly one Service URL, and
// traffic never crosses namespaces.
func backendService(role string, b Backend, ns string) (ServiceRef, error) {
	if len(b.Endpoints) != 1 {
		return ServiceRef{}, fmt.Errorf("%s revision %q: want one Service URL, got %d endpoints %v", role, b.Revision, len(b.Endpoints), b.Endpoints)
	}
	s, err := ParseServiceURL(b.Endpoints[0])
	if err != nil {
		return ServiceRef{}, fmt.Errorf("%s revision %q: %w", role, b.Revision, err)
	}
	if s.Namespace != ns {
		return ServiceRef{}, fmt.Errorf("%s revision %q: Service %s is in namespace %s, not the rollout's %s", role, b.Revision, s.Name, s.Namespace, ns)
	}
	return s, nil
}
