package v1alpha1

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
		return "setWeight " + s.SetWeight.String()
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
