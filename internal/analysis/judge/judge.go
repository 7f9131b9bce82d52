package judge

import (
	"fmt"
	"sort"
	"strings"
)

// Config holds the analysis-wide settings.
type Config struct {
	// PassScore: a score at or above it passes. Default 95 (Spinnaker's
	// customary canary pass threshold).
	PassScore float64
	// MarginalScore: below it the analysis fails; between the two it is
	// Inconclusive. Default 75 (or PassScore, if that is lower).
	MarginalScore float64
	// ComparedWith records what the canary was compared with: "baseline"
	// (default) or "stable".
	ComparedWith string
	// Alpha is the default false alarm rate per metric. Default 0.01.
	Alpha float64
	// Look is the 1-based index of this evaluation within one analysis run.
	// Mann-Whitney is a fixed-sample test, so when it is re-run every tick
	// its level is spent over looks (α·6/(π²·Look²), summing to α); 0 means
	// a single look at the full α.
	Look int
}

// Defaults for Config.
const (
	DefaultPassScore     = 95
	DefaultMarginalScore = 75
	DefaultAlpha         = 0.01
)

func (c Config) withDefaults() Config {
	if c.PassScore == 0 {
		c.PassScore = DefaultPassScore
	}
	if c.MarginalScore == 0 {
		c.MarginalScore = min(DefaultMarginalScore, c.PassScore)
	}
	if c.ComparedWith == "" {
		c.ComparedWith = "baseline"
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = DefaultAlpha
	}
	return c
}

// Judge evaluates every metric on its input and combines the verdicts.
//
// Per metric: provider error → Inconclusive with the error; no data →
// Inconclusive (Fail when MustHaveData), never Pass; otherwise the metric's
// test decides. Overall, with Kayenta's semantics: a group's score is the
// share of its metrics that pass, groups are weighted, and a critical metric
// that fails fails the analysis whatever the score. Undecided metrics are
// bounded rather than guessed: Score counts them as not passing and
// ScoreUpper as passing. The analysis passes when Score ≥ PassScore, fails
// when even ScoreUpper < MarginalScore, and is Inconclusive otherwise (early
// on, when nothing has been decided yet, or in the marginal band).
func Judge(metrics []Metric, inputs map[string]Input, cfg Config) Report {
	cfg = cfg.withDefaults()
	rep := Report{PassScore: cfg.PassScore, MarginalScore: cfg.MarginalScore, ComparedWith: cfg.ComparedWith, Look: cfg.Look}
	for _, m := range metrics {
		in, ok := inputs[m.Name]
		rep.Metrics = append(rep.Metrics, judgeMetric(m, in, ok, cfg))
	}
	if len(metrics) == 0 {
		rep.Reason = "no metrics configured"
		return rep
	}
	rep.Groups, rep.Score, rep.ScoreUpper = score(metrics, rep.Metrics)

	var critical, undecided []string
	for _, r := range rep.Metrics {
		if r.Critical && r.Verdict == Fail {
			critical = append(critical, r.Name+": "+r.Reason)
		}
		if r.Verdict == Inconclusive {
			undecided = append(undecided, r.Name)
		}
	}
	switch {
	case len(critical) > 0:
		rep.Verdict = Fail
		rep.Reason = "critical metric failed: " + strings.Join(critical, "; ")
	case rep.Score >= cfg.PassScore:
		rep.Verdict = Pass
		rep.Reason = fmt.Sprintf("score %.0f ≥ pass %.0f", rep.Score, cfg.PassScore)
	case rep.ScoreUpper < cfg.MarginalScore:
		rep.Verdict = Fail
		rep.Reason = fmt.Sprintf("score %.0f (at most %.0f) < marginal %.0f", rep.Score, rep.ScoreUpper, cfg.MarginalScore)
	case len(undecided) > 0:
		rep.Reason = fmt.Sprintf("score between %.0f and %.0f: undecided %s", rep.Score, rep.ScoreUpper, strings.Join(undecided, ", "))
	default:
		rep.Reason = fmt.Sprintf("marginal score %.0f: between %.0f and %.0f", rep.Score, cfg.MarginalScore, cfg.PassScore)
	}
	return rep
}

// score computes group scores and the weighted totals.
func score(metrics []Metric, results []MetricResult) ([]GroupScore, float64, float64) {
	idx := map[string]int{}
	var groups []GroupScore
	for i, m := range metrics {
		name := results[i].Group
		g, ok := idx[name]
		if !ok {
			g = len(groups)
			idx[name] = g
			groups = append(groups, GroupScore{Name: name})
		}
		w := m.Weight
		if w == 0 {
			w = 1
		}
		if w > groups[g].Weight {
			groups[g].Weight = w
		}
		switch results[i].Verdict {
		case Pass:
			groups[g].Passed++
		case Fail:
			groups[g].Failed++
		default:
			groups[g].Undecided++
		}
	}
	var total, lo, hi float64
	for i := range groups {
		g := &groups[i]
		n := float64(g.Passed + g.Failed + g.Undecided)
		g.Score = 100 * float64(g.Passed) / n
		g.ScoreUpper = 100 * float64(g.Passed+g.Undecided) / n
		total += g.Weight
		lo += g.Weight * g.Score
		hi += g.Weight * g.ScoreUpper
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	return groups, lo / total, hi / total
}

// judgeMetric dispatches one metric and fills the fields every kind shares.
func judgeMetric(m Metric, in Input, present bool, cfg Config) MetricResult {
	r := MetricResult{
		Name: m.Name, Kind: m.Kind, Group: m.Group, Critical: m.Critical, Direction: m.Direction,
		Query: in.Query, AllowedEffect: m.AllowedEffect, Condition: m.Condition,
		CanaryValue: na(), BaselineValue: na(), PValue: na(), EValue: na(), Statistic: na(), Alpha: na(),
		Effect: na(), EffectLower: na(), EffectUpper: na(), Difference: na(),
	}
	if r.Group == "" {
		r.Group = m.Name
	}
	if err := m.Validate(); err != nil {
		r.Reason = "configuration error: " + err.Error()
		return r
	}
	if in.Err != nil {
		r.Reason = "provider error: " + in.Err.Error()
		return r
	}
	alpha := m.Alpha
	if alpha == 0 {
		alpha = cfg.Alpha
	}
	var noData string
	switch {
	case !present:
		noData = "no data: the provider returned nothing for this metric"
	case m.Kind == ErrorRate:
		noData = judgeErrorRate(m, in, alpha, &r)
	case m.Kind == Latency:
		noData = judgeLatency(m, in, alpha, cfg.Look, &r)
	case m.Kind == Threshold:
		noData = judgeThreshold(m, in, &r)
	}
	if noData != "" {
		r.Verdict, r.Reason, r.NeedsData = Inconclusive, noData, true
		if m.MustHaveData {
			r.Verdict, r.Reason, r.NeedsData = Fail, noData+" (the metric must have data)", false
		}
	}
	return r
}
