package cli

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newAnalysisCmd) }

func newAnalysisCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "analysis",
		Short: "Show the release's analyses: verdicts with the numbers behind them",
		Long: `Shows the background analysis and the analysis step of the current (or
last) release: the overall verdict and score, and per metric the query as
run, the values per version, sample counts, p-values or e-values, the
effect with its confidence limits, and the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, name, err := f.connect(cmd)
			if err != nil {
				return err
			}
			var runs []wire.AnalysisRun
			none := "no analysis has run"
			switch b := b.(type) {
			case apiBackend:
				if runs, err = b.Analysis(ctx, name); err != nil {
					return err
				}
			default:
				// A cluster's Rollout status holds no analysis reports.
				if _, err := b.Get(ctx, name); err != nil {
					return err
				}
				none = "no analysis recorded: the controller keeps no analysis reports in the Rollout's status"
			}
			if runs == nil {
				runs = []wire.AnalysisRun{}
			}
			out := cmd.OutOrStdout()
			if ok, err := f.printData(out, runs); ok {
				return err
			}
			if len(runs) == 0 {
				fmt.Fprintf(out, "rollout %s: %s\n", name, none)
				return nil
			}
			for i, r := range runs {
				if i > 0 {
					fmt.Fprintln(out)
				}
				if err := printRun(out, r); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.register(cmd, true, true)
	return cmd
}

// printRun writes one analysis as a header and a table of metrics.
func printRun(out io.Writer, r wire.AnalysisRun) error {
	what := map[string]string{"prePromotion": "pre-promotion analysis", "postPromotion": "post-promotion analysis"}[r.Kind]
	switch {
	case r.Kind == "step":
		what = fmt.Sprintf("analysis step %d", r.Step)
	case what == "":
		what = "background analysis"
	}
	state := "running"
	if !r.Running {
		state = "ended"
	}
	rep := r.Report
	fmt.Fprintf(out, "%s of %s vs %s %s (%s, %s, look %d)\n", what, r.Revision, r.ComparedWith, r.CompareRevision, state,
		r.UpdatedAt.Sub(r.StartedAt).Round(100*time.Millisecond), r.Looks)
	fmt.Fprintf(out, "verdict %s  score %.0f (at most %.0f; pass %.0f, marginal %.0f)  requests: canary %d, %s %d\n",
		rep.Verdict, rep.Score, rep.ScoreUpper, rep.PassScore, rep.MarginalScore, r.CanaryRequests, r.ComparedWith, r.CompareRequests)
	fmt.Fprintf(out, "reason: %s\n", rep.Reason)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tKIND\tVERDICT\tCANARY\tCOMPARED\tN CANARY/COMPARED\tP / E\tEFFECT [LIMITS]\tALLOWED\tREASON")
	for _, m := range rep.Metrics {
		stat := "-"
		switch {
		case !isNA(m.EValue):
			stat = fmt.Sprintf("p=%s e=%s", g(m.PValue), g(m.EValue))
		case !isNA(m.PValue):
			stat = fmt.Sprintf("p=%s U=%s", g(m.PValue), g(m.Statistic))
		}
		effect := "-"
		if !isNA(m.Effect) {
			effect = fmt.Sprintf("%s [%s, %s]", signedPct(m.Effect), signedPct(m.EffectLower), signedPct(m.EffectUpper))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", m.Name, m.Kind, m.Verdict, value(m, m.CanaryValue), value(m, m.BaselineValue),
			m.CanaryCount, m.BaselineCount, stat, effect, allowed(m), m.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range rep.Metrics {
		if m.Query != "" {
			fmt.Fprintf(out, "  %s: %s\n", m.Name, m.Query)
		}
	}
	return nil
}

func isNA(n judge.Number) bool { return math.IsNaN(float64(n)) }

func g(n judge.Number) string {
	if isNA(n) || math.IsInf(float64(n), 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.3g", float64(n))
}

func signedPct(n judge.Number) string {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return "n/a"
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return fmt.Sprintf("%+.1f%%", 100*f)
}

// value renders a version's value in the metric's unit: error rates as
// percentages, latencies in ms, thresholds as the number.
func value(m judge.MetricResult, n judge.Number) string {
	if isNA(n) {
		return "-"
	}
	switch m.Kind {
	case judge.ErrorRate:
		return fmt.Sprintf("%.2f%%", 100*float64(n))
	case judge.Latency:
		return fmt.Sprintf("%.3g ms", float64(n))
	}
	return g(n)
}

func allowed(m judge.MetricResult) string {
	if m.Kind == judge.Threshold {
		return m.Condition
	}
	return fmt.Sprintf("%+.0f%%", 100*m.AllowedEffect)
}
