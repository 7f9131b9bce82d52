package spec

import "time"

// Defaults filled in by SetDefaults, exported so documentation and the
// engine agree with the loader.
const (
	DefaultInstances         = 1
	DefaultReadinessPath     = "/"
	DefaultReadinessInterval = 500 * time.Millisecond
	DefaultReadinessTimeout  = 60 * time.Second
	DefaultGracePeriod       = 10 * time.Second
	// DefaultScaleDownDelay keeps the previous stable warm after a promotion
	// (both strategies) so undo is instant.
	DefaultScaleDownDelay = 30 * time.Second
	DefaultPathPrefix     = "/"
)

// SetDefaults fills every unset optional field. It runs after validation so
// that errors point at what the user wrote, not at filled-in values.
func SetDefaults(r *Rollout) {
	s := &r.Spec
	if s.Route.PathPrefix == "" {
		s.Route.PathPrefix = DefaultPathPrefix
	}
	if l := s.Platform.Local; l != nil {
		if l.Instances == 0 {
			l.Instances = DefaultInstances
		}
		if l.Readiness.Path == "" {
			l.Readiness.Path = DefaultReadinessPath
		}
		if l.Readiness.Interval == 0 {
			l.Readiness.Interval = Duration(DefaultReadinessInterval)
		}
		if l.Readiness.Timeout == 0 {
			l.Readiness.Timeout = Duration(DefaultReadinessTimeout)
		}
		if l.GracePeriod == 0 {
			l.GracePeriod = Duration(DefaultGracePeriod)
		}
	}
	if bg := s.Strategy.BlueGreen; bg != nil && bg.ScaleDownDelay == nil {
		d := Duration(DefaultScaleDownDelay)
		bg.ScaleDownDelay = &d
	}
}

// ScaleDownDelay is how long the previous stable revision stays warm after a
// promotion: the blue/green scaleDownDelay, or DefaultScaleDownDelay.
func (s RolloutSpec) ScaleDownDelay() time.Duration {
	if bg := s.Strategy.BlueGreen; bg != nil && bg.ScaleDownDelay != nil {
		return bg.ScaleDownDelay.D()
	}
	return DefaultScaleDownDelay
}
