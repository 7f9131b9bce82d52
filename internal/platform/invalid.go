package platform

import "fmt"

// InvalidError says that a platform cannot work with its spec as written
// (the Kubernetes platform's target Deployment is missing, a container it
// names is not in the target, an image template does not render). It is
// not worth retrying: the same spec fails the same way, so a controller
// reports it as the Rollout's Invalid condition instead of requeueing. The
// platform returns it before writing anything.
type InvalidError struct {
	// Field is the field path in the Rollout that is wrong, such as
	// "spec.platform.kubernetes.containers[1].name".
	Field string
	// Reason says what is wrong with it, in plain words.
	Reason string
}

// Error is "field: reason".
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// invalid is shorthand for returning an *InvalidError.
func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
