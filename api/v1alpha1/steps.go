package v1alpha1

import (
	"strconv"
	"strings"
)

// Kind names the one field a step sets: "setWeight", "pause", "analysis",
// "setMirror" or "setHeaderRoute"; "" for an invalid step.
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
	case s.SetHeaderRoute != nil:
		return "setHeaderRoute"
	}
	return ""
}

// String describes the step for events and status output:
// "setWeight 10%", "pause 10s", "pause (until promote)", "setMirror
// reads 50%", "setMirror reads off", "setHeaderRoute beta (X-Beta exact \"1\")".
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
	case s.SetHeaderRoute != nil:
		return "setHeaderRoute " + s.SetHeaderRoute.String()
	}
	return "empty step"
}

// String describes the route: `beta (X-Beta exact "1", X-Tier prefix "gold")`,
// or `beta removed` when it has no match.
func (h SetHeaderRoute) String() string {
	if len(h.Match) == 0 {
		return h.Name + " removed"
	}
	parts := make([]string, len(h.Match))
	for i, m := range h.Match {
		parts[i] = m.HeaderName + " " + m.HeaderValue.String()
	}
	return h.Name + " (" + strings.Join(parts, ", ") + ")"
}

// String is `exact "1"`, `prefix "gold"` or `regex "^b[0-9]+$"`.
func (m StringMatch) String() string {
	switch {
	case m.Exact != "":
		return "exact " + strconv.Quote(m.Exact)
	case m.Prefix != "":
		return "prefix " + strconv.Quote(m.Prefix)
	case m.Regex != "":
		return "regex " + strconv.Quote(m.Regex)
	}
	return "(no value)"
}

// IndefinitePause reports whether the step is a pause that waits for
// promote.
func (s Step) IndefinitePause() bool { return s.Pause != nil && s.Pause.Duration == nil }
