package run

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Summarize is one line with the numbers behind a run's verdict, for
// events and notifications: the decisive metrics first.
func Summarize(v wire.AnalysisRun) string {
	rep := v.Report
	var parts []string
	for _, m := range rep.Metrics {
		if rep.Verdict == judge.Fail && m.Verdict != judge.Fail {
			continue
		}
		parts = append(parts, metricLine(m, v.ComparedWith))
	}
	what := map[string]string{engine.AnalysisBackground: "background analysis", engine.AnalysisPrePromotion: "pre-promotion analysis",
		engine.AnalysisPostPromotion: "post-promotion analysis"}[v.Kind]
	if v.Kind == engine.AnalysisStep {
		what = fmt.Sprintf("analysis of step %d", v.Step)
	}
	return fmt.Sprintf("%s of %s: %s, score %.0f (%s); %s; %d canary / %d %s requests in %s",
		what, v.Revision, rep.Verdict, rep.Score, rep.Reason, strings.Join(parts, "; "),
		v.CanaryRequests, v.CompareRequests, v.ComparedWith, v.UpdatedAt.Sub(v.StartedAt).Round(100*time.Millisecond))
}

// metricLine renders one metric's numbers: values per version, counts,
// the test's statistic and the effect with its limits.
func metricLine(m judge.MetricResult, vs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", m.Name, m.Verdict)
	switch m.Kind {
	case judge.ErrorRate:
		fmt.Fprintf(&b, ": canary %s of %d vs %s %s of %d", pct(m.CanaryValue), m.CanaryCount, vs, pct(m.BaselineValue), m.BaselineCount)
	case judge.Latency:
		fmt.Fprintf(&b, ": median canary %s ms (%d) vs %s %s ms (%d)", num(m.CanaryValue), m.CanaryCount, vs, num(m.BaselineValue), m.BaselineCount)
	case judge.Threshold:
		fmt.Fprintf(&b, ": %s = %s", m.Condition, num(m.CanaryValue))
	}
	if !math.IsNaN(float64(m.EValue)) {
		fmt.Fprintf(&b, ", e=%s", num(m.EValue))
	}
	if !math.IsNaN(float64(m.PValue)) {
		fmt.Fprintf(&b, ", p=%s", num(m.PValue))
	}
	if !math.IsNaN(float64(m.Effect)) {
		fmt.Fprintf(&b, ", effect %s [%s, %s] allowed %s", pct(m.Effect), pct(m.EffectLower), pct(m.EffectUpper), pct(judge.Number(m.AllowedEffect)))
	}
	if m.Verdict != judge.Pass || m.Kind == judge.Threshold {
		fmt.Fprintf(&b, " (%s)", m.Reason)
	}
	return b.String()
}

func pct(n judge.Number) string {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*f)
}

func num(n judge.Number) string {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.4g", f)
}
