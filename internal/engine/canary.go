package engine

import (
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/internal/spec"
)

// enterSteps runs the canary's steps from StepIndex until one has to wait:
// a setWeight applies at once and moves on; a timed pause waits until
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
			t.setCanaryWeight(spec.WeightPPM(*s.SetWeight))
			t.advance()
		case s.IndefinitePause():
			t.st.Phase, t.st.PausedBy = Paused, PausedByStep
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
		default:
			// Validation refuses analysis steps until they exist; a spec
			// that slipped through must not be skipped silently.
			t.endRelease(Aborted, EventAborted, spec.ErrAnalysisUnavailable)
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
// pause that has elapsed moves on. Anything else at the current step
// (possible only after the spec changed mid-release) is entered afresh.
func (t *tx) canaryTick() {
	steps := t.canary().Steps
	if t.st.StepIndex < len(steps) {
		s := steps[t.st.StepIndex]
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
	if !t.st.CanaryReady {
		return &Refusal{Reason: fmt.Sprintf("%s is not ready yet, so no step has started; promote --full gives it all traffic as soon as it is ready", t.st.CanaryRevision)}
	}
	steps := t.canary().Steps
	t.event(EventPromoted, "promoted past %s", t.stepLabel(steps))
	t.st.Phase, t.st.PausedBy, t.st.PausedAt = Progressing, "", time.Time{}
	t.advance()
	t.enterSteps()
	return nil
}

func (t *tx) stepLabel(steps []spec.Step) string {
	if t.st.StepIndex >= len(steps) {
		return "the last step"
	}
	return fmt.Sprintf("step %d/%d (%s)", t.st.StepIndex+1, len(steps), steps[t.st.StepIndex])
}
