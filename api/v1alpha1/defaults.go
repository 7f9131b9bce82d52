package v1alpha1

import "time"

// Defaults of the optional fields. internal/spec fills them in after
// validation; they are here, beside the fields, so documentation, the loader
// and the engine agree.
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

// ScaleDownDelay is how long the previous stable revision stays warm after a
// promotion: the blue/green scaleDownDelay, or DefaultScaleDownDelay.
func (s RolloutSpec) ScaleDownDelay() time.Duration {
	if bg := s.Strategy.BlueGreen; bg != nil && bg.ScaleDownDelay != nil {
		return bg.ScaleDownDelay.D()
	}
	return DefaultScaleDownDelay
}
