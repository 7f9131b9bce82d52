package v1alpha1

// Kind names the one field a step sets: "setWeight", "pause", "analysis"
// or "setMirror"; "" for an invalid step.
func (s Step) Kind() string {
	switch {
	case s.SetWeight != nil:
		return "setWeight"
	case s.Pause != nil:
		return "pause"
	case s.Analysis != nil:
		return "analysis"
	case s.SetMirror != nil:
		return "setMirror"
	}
	return ""
}

// String describes the step for events and status output:
// "setWeight 10%", "pause 10s", "pause (until promote)", "setMirror
// reads 50%", "setMirror reads off".
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
	case s.SetMirror != nil && s.SetMirror.Removes():
		return "setMirror " + s.SetMirror.Name + " off"
	case s.SetMirror != nil:
		return "setMirror " + s.SetMirror.Name + " " + s.SetMirror.Percentage.String()
	}
	return "empty step"
}

// IndefinitePause reports whether the step is a pause that waits for
// promote.
func (s Step) IndefinitePause() bool { return s.Pause != nil && s.Pause.Duration == nil }
