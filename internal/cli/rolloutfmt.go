package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// releasing reports whether a release is under way (there is a step to show).
func releasing(st v1alpha1.RolloutStatus) bool {
	return st.CanaryRevision != "" && st.Phase != v1alpha1.PhaseHealthy && st.Phase != v1alpha1.PhaseAborted
}

// stepLine is "i/n setWeight 10%", or "-" when no release is in progress or
// the strategy has no steps (blue/green).
func stepLine(v wire.RolloutView) string {
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
	return fmt.Sprintf("%d/%d %s", i+1, n, v.Steps[i])
}

// headerRoutesLine lists the header routes in force, `beta (X-Beta exact
// "1"); staff (...)`, or "-".
func headerRoutesLine(st v1alpha1.RolloutStatus) string {
	if len(st.HeaderRoutes) == 0 {
		return "-"
	}
	parts := make([]string, len(st.HeaderRoutes))
	for i, h := range st.HeaderRoutes {
		parts[i] = h.String()
	}
	return strings.Join(parts, "; ")
}

func weightsLine(w v1alpha1.Weights) string {
	return fmt.Sprintf("canary %s, baseline %s", w.CanaryPPM, w.BaselinePPM)
}

func phaseLine(st v1alpha1.RolloutStatus) string {
	if st.Phase == v1alpha1.PhasePaused && st.PausedBy != "" {
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
func printStatus(w io.Writer, v wire.RolloutView) error {
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
	}
	if len(st.HeaderRoutes) > 0 { // a row only then: most releases have none
		rows = append(rows, [2]string{"header routes", headerRoutesLine(st)})
	}
	rows = append(rows, [2]string{"message", orDash(st.Message)})
	if v.RouterURL != "" {
		rows = append(rows, [2]string{"router", v.RouterURL})
	}
	if v.Traffic != "" {
		rows = append(rows, [2]string{"traffic", v.Traffic})
	}
	// A cluster's controller says so when it cannot act on the Rollout.
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ConditionInvalid && c.Status == v1alpha1.ConditionTrue {
			rows = append(rows, [2]string{"invalid", c.Reason + ": " + c.Message})
		}
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == v1alpha1.ConditionFalse {
		rows = append(rows, [2]string{"serving", "no (" + c.Reason + "): " + c.Message})
	}
	if !st.ReadyLostAt.IsZero() {
		rows = append(rows, [2]string{"canaryReady", "no, since " + st.ReadyLostAt.Local().Format("15:04:05") + ": steps wait"})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// oneLine summarizes a rollout after a command: where it is now.
func oneLine(v wire.RolloutView) string {
	st := v.Status
	parts := []string{phaseLine(st)}
	if releasing(st) {
		if s := stepLine(v); s != "-" {
			parts = append(parts, "step "+s)
		}
		parts = append(parts, fmt.Sprintf("canary %s at %s", st.CanaryRevision, st.Weights.CanaryPPM))
		if st.Weights.BaselinePPM > 0 {
			parts = append(parts, "baseline at "+st.Weights.BaselinePPM.String())
		}
	} else {
		parts = append(parts, fmt.Sprintf("stable %s serves all traffic", orDash(st.StableRevision)))
	}
	return strings.Join(parts, ", ")
}

// liveState is what `status -w` shows: the rollout, its recent traffic per
// version, and the newest event and verdict.
type liveState struct {
	View wire.RolloutView
	// Metrics by role (stable, canary, baseline); nil when the control
	// plane keeps no history.
	Metrics     map[string]versionMetrics
	LastEvent   *wire.Event
	LastVerdict *wire.Event
	// Problem is the last poll's error, shown until a poll succeeds.
	Problem string
}

// versionMetrics summarize one version over the last few seconds.
type versionMetrics struct {
	Revision  string
	RPS       float64
	ErrorRate float64  // errors / requests, 0 without requests
	P99Ms     *float64 // the worst per-second p99 in the window; nil = no data
}

// metricsWindow is how many seconds status -w averages: one second of a
// small canary is too few requests to read anything from.
const metricsWindow = 5

// metricsFrom pools the last metricsWindow points per role. Requests and
// errors add up exactly; a p99 cannot be pooled from per-second p99s, so
// the window's worst second is shown (an honest upper bound).
func metricsFrom(pts []wire.HistoryPoint) map[string]versionMetrics {
	out := map[string]versionMetrics{}
	if len(pts) > metricsWindow {
		pts = pts[len(pts)-metricsWindow:]
	}
	reqs, errs := map[string]int{}, map[string]int{}
	for _, p := range pts {
		for role, vp := range p.Versions {
			m := out[role]
			m.Revision = vp.Revision
			reqs[role] += vp.Requests
			errs[role] += vp.Errors
			if vp.P99Ms != nil && (m.P99Ms == nil || *vp.P99Ms > *m.P99Ms) {
				m.P99Ms = ptrTo(*vp.P99Ms)
			}
			out[role] = m
		}
	}
	for role, m := range out {
		if len(pts) > 0 {
			m.RPS = float64(reqs[role]) / float64(len(pts))
		}
		if reqs[role] > 0 {
			m.ErrorRate = float64(errs[role]) / float64(reqs[role])
		}
		out[role] = m
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// progressBar draws the steps done out of n, at most 20 cells wide.
func progressBar(done, n int) string {
	if n <= 0 {
		return ""
	}
	width := min(n, 20)
	filled := min(width, max(0, done*width/n))
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
}

// stepProgress is "[##------] 3/8 setWeight 10%", or "-" with no release.
func stepProgress(v wire.RolloutView) string {
	line := stepLine(v)
	if line == "-" {
		return line
	}
	return progressBar(v.Status.StepIndex, len(v.Steps)) + " " + line
}

func fmtMetrics(m versionMetrics) (rps, errRate, p99 string) {
	rps = strconv.FormatFloat(m.RPS, 'f', 1, 64)
	errRate = strconv.FormatFloat(m.ErrorRate*100, 'f', 2, 64) + "%"
	p99 = "-"
	if m.P99Ms != nil {
		p99 = strconv.FormatFloat(*m.P99Ms, 'f', 1, 64) + "ms"
	}
	if m.RPS == 0 {
		errRate = "-" // no requests: no rate, rather than a reassuring 0%
	}
	return
}

func eventLine(e *wire.Event) string {
	if e == nil {
		return "-"
	}
	return e.Time.Local().Format("15:04:05") + " " + e.Type + ": " + e.Message
}

// renderLive is the whole `status -w` screen as lines (no trailing newline
// handling: the caller redraws it in place).
func renderLive(s liveState) string {
	var b strings.Builder
	v, st := s.View, s.View.Status
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rollout:\t%s\t%s\n", v.Name, phaseLine(st))
	fmt.Fprintf(tw, "revisions:\tstable %s, canary %s\n", orDash(st.StableRevision), orDash(st.CanaryRevision))
	fmt.Fprintf(tw, "step:\t%s\n", stepProgress(v))
	fmt.Fprintf(tw, "weights:\t%s\n", weightsLine(st.Weights))
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == v1alpha1.ConditionFalse {
		fmt.Fprintf(tw, "serving:\tno: %s\n", c.Message)
	}
	if len(st.HeaderRoutes) > 0 {
		fmt.Fprintf(tw, "header routes:\t%s\n", headerRoutesLine(st))
	}
	tw.Flush()
	if s.Metrics == nil {
		b.WriteString("traffic:    no metrics history from this control plane\n")
	} else {
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "version\trevision\treq/s\terrors\tp99\t\n")
		for _, role := range []string{"stable", "canary", "baseline"} {
			m, ok := s.Metrics[role]
			if !ok {
				continue
			}
			rps, er, p99 := fmtMetrics(m)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", role, m.Revision, rps, er, p99)
		}
		tw.Flush()
	}
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "verdict:\t%s\n", eventLine(s.LastVerdict))
	fmt.Fprintf(tw, "last event:\t%s\n", eventLine(s.LastEvent))
	if s.Problem != "" {
		fmt.Fprintf(tw, "problem:\t%s\n", s.Problem)
	}
	tw.Flush()
	return b.String()
}

// plainLive is one line for a log or a pipe, printed on each change.
func plainLive(s liveState, now time.Time) string {
	v, st := s.View, s.View.Status
	parts := []string{now.Format("15:04:05"), v.Name, phaseLine(st), "step " + stepLine(v), weightsLine(st.Weights)}
	if len(st.HeaderRoutes) > 0 {
		parts = append(parts, "header routes "+headerRoutesLine(st))
	}
	for _, role := range []string{"stable", "canary", "baseline"} {
		if m, ok := s.Metrics[role]; ok {
			rps, er, p99 := fmtMetrics(m)
			parts = append(parts, fmt.Sprintf("%s %s req/s err %s p99 %s", role, rps, er, p99))
		}
	}
	if s.LastEvent != nil {
		parts = append(parts, "last: "+s.LastEvent.Type+" "+s.LastEvent.Message)
	}
	if s.Problem != "" {
		parts = append(parts, "problem: "+s.Problem)
	}
	return strings.Join(parts, " | ")
}
