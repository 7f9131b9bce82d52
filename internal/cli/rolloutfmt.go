package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/spec"
)

// formatPPM prints parts per million as a percentage with up to four
// decimals (1000 ppm -> "0.1%"), in integers so no float rounding shows.
func formatPPM(ppm uint32) string {
	s := fmt.Sprintf("%d.%04d", ppm/10000, ppm%10000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// stepText describes a canary step the way it is written in kanaria.yaml.
func stepText(s spec.Step) string {
	switch {
	case s.SetWeight != nil:
		return "setWeight " + strconv.FormatFloat(*s.SetWeight, 'f', -1, 64) + "%"
	case s.Pause != nil && s.Pause.Duration != nil:
		return "pause " + time.Duration(*s.Pause.Duration).String()
	case s.Pause != nil:
		return "pause (until promote)"
	case s.Analysis != nil:
		return "analysis " + time.Duration(s.Analysis.Duration).String()
	}
	return "?"
}

// releasing reports whether a release is under way (there is a step to show).
func releasing(st engine.Status) bool {
	return st.CanaryRevision != "" && st.Phase != engine.Healthy && st.Phase != engine.Aborted
}

// stepLine is "i/n setWeight 10%", or "-" when no release is in progress or
// the strategy has no steps (blue/green).
func stepLine(v server.RolloutView) string {
	n := len(v.Steps)
	if n == 0 || !releasing(v.Status) {
		return "-"
	}
	i := v.Status.StepIndex
	if i >= n {
		return fmt.Sprintf("%d/%d (all steps done)", n, n)
	}
	if i < 0 {
		i = 0
	}
	return fmt.Sprintf("%d/%d %s", i+1, n, stepText(v.Steps[i]))
}

func weightsLine(w engine.Weights) string {
	return fmt.Sprintf("canary %s, baseline %s", formatPPM(w.CanaryPPM), formatPPM(w.BaselinePPM))
}

func phaseLine(st engine.Status) string {
	if st.Phase == engine.Paused && st.PausedBy != "" {
		return fmt.Sprintf("%s (%s)", st.Phase, st.PausedBy)
	}
	return string(st.Phase)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStatus writes a rollout as an aligned two-column block.
func printStatus(w io.Writer, v server.RolloutView) error {
	st := v.Status
	observed := "unknown"
	if st.ObservedWeights != nil {
		observed = weightsLine(*st.ObservedWeights)
	}
	rows := [][2]string{
		{"rollout", v.Name},
		{"phase", phaseLine(st)},
		{"strategy", orDash(v.Strategy)},
		{"stable", orDash(st.StableRevision)},
		{"canary", orDash(st.CanaryRevision)},
		{"step", stepLine(v)},
		{"weights", weightsLine(st.Weights)},
		{"observed", observed},
		{"message", orDash(st.Message)},
	}
	if v.RouterURL != "" {
		rows = append(rows, [2]string{"router", v.RouterURL})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// oneLine summarizes a rollout after a command: where it is now.
func oneLine(v server.RolloutView) string {
	st := v.Status
	parts := []string{phaseLine(st)}
	if releasing(st) {
		if s := stepLine(v); s != "-" {
			parts = append(parts, "step "+s)
		}
		parts = append(parts, fmt.Sprintf("canary %s at %s", st.CanaryRevision, formatPPM(st.Weights.CanaryPPM)))
		if st.Weights.BaselinePPM > 0 {
			parts = append(parts, "baseline at "+formatPPM(st.Weights.BaselinePPM))
		}
	} else {
		parts = append(parts, fmt.Sprintf("stable %s serves all traffic", orDash(st.StableRevision)))
	}
	return strings.Join(parts, ", ")
}
