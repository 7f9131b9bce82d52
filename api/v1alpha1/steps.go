package v1alpha1

import (
	"math"
	"strconv"
)

// PPM is 100 % in parts per million, the router's unit for weights.
const PPM = 1_000_000

// WeightPPM converts a percentage (0.1) to parts per million (1000).
// Validation guarantees the percentage has at most ppm precision, so the
// rounding only removes float noise.
func WeightPPM(percent float64) uint32 {
	if percent <= 0 || math.IsNaN(percent) {
		return 0
	}
	if percent >= 100 {
		return PPM
	}
	return uint32(math.Round(percent * PPM / 100))
}

// FormatPercent renders a percentage without float noise ("0.1%").
func FormatPercent(percent float64) string {
	return strconv.FormatFloat(percent, 'f', -1, 64) + "%"
}

// Kind names the one field a step sets: "setWeight", "pause" or "analysis";
// "" for an invalid step.
func (s Step) Kind() string {
	switch {
	case s.SetWeight != nil:
		return "setWeight"
	case s.Pause != nil:
		return "pause"
	case s.Analysis != nil:
		return "analysis"
	}
	return ""
}

// String describes the step for events and status output:
// "setWeight 10%", "pause 10s", "pause (until promote)".
func (s Step) String() string {
	switch {
	case s.SetWeight != nil:
		return "setWeight " + FormatPercent(*s.SetWeight)
	case s.Pause != nil && s.Pause.Duration != nil:
		return "pause " + s.Pause.Duration.String()
	case s.Pause != nil:
		return "pause (until promote)"
	case s.Analysis != nil:
		return "analysis " + s.Analysis.Duration.String()
	}
	return "empty step"
}

// IndefinitePause reports whether the step is a pause that waits for
// promote.
func (s Step) IndefinitePause() bool { return s.Pause != nil && s.Pause.Duration == nil }
