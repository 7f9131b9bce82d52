package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// enterSteps runs the canary's steps from StepIndex until one has to wait:
// a setMirror or setHeaderRoute applies at once and moves on, a setWeight
// too once the router reads its weights back (readback.go); a timed pause waits until
// StepStartedAt + duration (canaryTick checks); an empty pause makes the
// phase Paused until promote. Past the last step the canary is promoted.
func (t *tx) enterSteps() {
	steps := t.canary().Steps
	for {
		if t.st.FullPromotion || t.st.StepIndex >= len(steps) {
			t.finish()
			return
		}
		s := steps[t.st.StepIndex]
		label := fmt.Sprintf("step %d/%d: %s", t.st.StepIndex+1, len(steps), s)
		t.event(EventStepReached, "%s", label)
		t.st.Message = label
		switch {
		case s.SetWeight != nil:
			t.setCanaryWeight(*s.SetWeight)
			t.advance()
			if !t.readBack() {
				// The next step starts once the router serves these
				// weights (readback.go).
				t.awaitReadBack()
				return
			}
		case s.SetHeaderRoute != nil:
			t.setHeaderRoute(*s.SetHeaderRoute)
			t.advance()
		case s.IndefinitePause():
			t.st.Phase, t.st.PausedBy = v1alpha1.PhasePaused, PausedByStep
			t.st.Message = label + "; waiting for promote"
			t.event(EventPaused, "%s", t.st.Message)
			return
		case s.Pause != nil:
			d := s.Pause.Duration.D()
			if d <= 0 {
				t.advance()
				continue
			}
			t.st.Message = fmt.Sprintf("%s; continues at %s", label, t.clock(d))
			return
		case s.SetMirror != nil:
			t.setMirror(*s.SetMirror)
			t.advance()
		case s.Analysis != nil:
			t.st.Message = t.judgingMessage(label, *s.Analysis)
			return
		default:
			// Validation refuses empty steps; one that slipped through
			// must not be skipped silently.
			t.endRelease(v1alpha1.PhaseAborted, EventAborted, "step "+label+" sets nothing")
			return
		}
	}
}

// advance moves to the next step; its clock starts now.
func (t *tx) advance() {
	t.st.StepIndex++
	t.st.StepStartedAt = t.now
}

// canaryTick handles a ready, Progressing canary between steps: a timed
// pause that has elapsed moves on, an analysis step that is done decides.
// Anything else at the current step (possible only after the spec changed
// mid-release) is entered afresh.
func (t *tx) canaryTick(obs Observations) {
	steps := t.canary().Steps
	if t.st.StepIndex < len(steps) {
		s := steps[t.st.StepIndex]
		if s.Analysis != nil {
			t.analysisTick(*s.Analysis, obs.StepAnalysis)
			return
		}
		if s.Pause != nil && s.Pause.Duration != nil {
			if t.now.Before(t.st.StepStartedAt.Add(time.Duration(*s.Pause.Duration))) {
				return
			}
			t.advance()
		}
	}
	t.enterSteps()
}

// promoteCanary is `promote` without --full: it moves past the current
// step, whether that is a pause waiting for promote, a timed pause, or a
// user's pause (which it also ends).
func (t *tx) promoteCanary() error {
	if !t.st.ReadyLostAt.IsZero() {
		return t.notReadyAgain()
	}
	if !t.st.CanaryReady {
		return &Refusal{Reason: fmt.Sprintf("%s is not ready yet, so no step has started; promote --full gives it all traffic as soon as it is ready", t.st.CanaryRevision)}
	}
	steps := t.canary().Steps
	t.event(EventPromoted, "promoted past %s", t.stepLabel(steps))
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = v1alpha1.PhaseProgressing, "", time.Time{}
	t.advance()
	t.enterSteps()
	return nil
}

func (t *tx) stepLabel(steps []v1alpha1.Step) string {
	if t.st.StepIndex >= len(steps) {
		return "the last step"
	}
	return fmt.Sprintf("step %d/%d (%s)", t.st.StepIndex+1, len(steps), steps[t.st.StepIndex])
}

// analysisTick ends an analysis step when judgeStage says so: Pass moves
// on, Inconclusive (or a timeout short of samples) pauses for a human.
func (t *tx) analysisTick(a v1alpha1.AnalysisStep, v *AnalysisResult) {
	out, why := t.judgeStage(a, v)
	label := t.stepLabel(t.canary().Steps)
	switch out {
	case analysisPassed:
		t.event(EventAnalysisPassed, "%s: %s", label, why)
		t.advance()
		t.enterSteps()
	case analysisInconclusive:
		t.pauseInconclusive(label, why)
	}
}

// setMirror adds, replaces or (without a percentage) removes a named mirror
// route in the status, and routes: the router copies from now on.
func (t *tx) setMirror(m v1alpha1.MirrorRoute) {
	i := slices.IndexFunc(t.st.Mirrors, func(x v1alpha1.MirrorRoute) bool { return x.Name == m.Name })
	switch {
	case m.Removes() && i >= 0:
		t.st.Mirrors = slices.Delete(slices.Clone(t.st.Mirrors), i, i+1)
	case m.Removes():
		return
	case i >= 0:
		t.st.Mirrors = slices.Clone(t.st.Mirrors)
		t.st.Mirrors[i] = m
	default:
		t.st.Mirrors = append(slices.Clone(t.st.Mirrors), m)
	}
	if len(t.st.Mirrors) == 0 {
		t.st.Mirrors = nil
	}
	t.route()
}

// mirroring is the mirror the router applies, or nil: the strategy's
// mirror and the setMirror routes, once the canary is ready.
func (t *tx) mirroring() (*v1alpha1.Mirror, []v1alpha1.MirrorRoute) {
	c := t.canary()
	if c == nil || t.st.CanaryRevision == "" || !t.st.CanaryReady {
		return nil, nil
	}
	if (c.Mirror == nil || c.Mirror.Percentage == 0) && len(t.st.Mirrors) == 0 {
		return nil, nil
	}
	m := v1alpha1.Mirror{}
	if c.Mirror != nil {
		m = *c.Mirror
	}
	return &m, slices.Clone(t.st.Mirrors)
}
