package spec

import "github.com/kanaria-dev/kanaria/api/v1alpha1"

// SetDefaults fills every unset optional field. It runs after validation so
// that errors point at what the user wrote, not at filled-in values.
func SetDefaults(r *v1alpha1.Rollout) {
	s := &r.Spec
	if s.Route.PathPrefix == "" {
		s.Route.PathPrefix = v1alpha1.DefaultPathPrefix
	}
	if l := s.Platform.Local; l != nil {
		if l.Instances == 0 {
			l.Instances = v1alpha1.DefaultInstances
		}
		if l.Readiness.Path == "" {
			l.Readiness.Path = v1alpha1.DefaultReadinessPath
		}
		if l.Readiness.Interval == 0 {
			l.Readiness.Interval = v1alpha1.Duration(v1alpha1.DefaultReadinessInterval)
		}
		if l.Readiness.Timeout == 0 {
			l.Readiness.Timeout = v1alpha1.Duration(v1alpha1.DefaultReadinessTimeout)
		}
		if l.GracePeriod == 0 {
			l.GracePeriod = v1alpha1.Duration(v1alpha1.DefaultGracePeriod)
		}
	}
	if bg := s.Strategy.BlueGreen; bg != nil && bg.ScaleDownDelay == nil {
		d := v1alpha1.Duration(v1alpha1.DefaultScaleDownDelay)
		bg.ScaleDownDelay = &d
	}
}
