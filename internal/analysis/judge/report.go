package judge

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Verdict is the judge's conclusion about a metric or a whole analysis.
type Verdict int

const (
	// Inconclusive is the zero value on purpose: a verdict nobody set is
	// never a Pass. It pauses a release for a human.
	Inconclusive Verdict = iota
	// Pass: the canary is not worse than allowed.
	Pass
	// Fail: the canary is worse than allowed; the release aborts.
	Fail
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Pass:
		return "Pass"
	case Fail:
		return "Fail"
	}
	return "Inconclusive"
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	switch string(b) {
	case "Pass":
		*v = Pass
	case "Fail":
		*v = Fail
	case "Inconclusive":
		*v = Inconclusive
	default:
		return fmt.Errorf("judge: unknown verdict %q", b)
	}
	return nil
}

// Number is a float64 that survives JSON when it is not finite: NaN ("not
// applicable") and ±Inf (an unbounded confidence limit) are written as null
// and read back as NaN, because encoding/json refuses them.
type Number float64

// MarshalJSON writes null for NaN and ±Inf.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

func na() Number { return Number(math.NaN()) }

// MetricResult is one metric's verdict with the numbers behind it.
type MetricResult struct {
	// Name, Kind, Group, Critical and Direction echo the metric (Group
	// defaults to the metric's name).
	Name     string `json:"name"`
	Kind     Kind   `json:"kind"`
	Group    string `json:"group"`
	Critical bool   `json:"critical,omitempty"`
	// Verdict is the metric's verdict and Reason one line on why.
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// NeedsData marks an Inconclusive metric short of data: none yet, or
	// fewer requests or samples than its minSamples. More traffic may
	// decide it, unlike a provider error or evidence that stays balanced.
	NeedsData bool `json:"needsData,omitempty"`
	// Query is the query as the provider ran it.
	Query     string    `json:"query,omitempty"`
	Direction Direction `json:"direction"`

	// CanaryValue and BaselineValue are the values per version: error
	// rates, median latencies, or (Threshold) the canary's value.
	CanaryValue   Number `json:"canaryValue"`
	BaselineValue Number `json:"baselineValue"`
	// CanaryCount and BaselineCount are requests (error rates) or samples.
	CanaryCount   int64 `json:"canaryCount"`
	BaselineCount int64 `json:"baselineCount"`

	// PValue is the (always-valid, for error rates) p-value; EValue the
	// sequential test's e-value; Statistic the Mann-Whitney U.
	PValue    Number `json:"pValue"`
	EValue    Number `json:"eValue"`
	Statistic Number `json:"statistic"`
	// Alpha is the false alarm rate used at this look (for latency, after
	// spending over looks).
	Alpha Number `json:"alpha"`

	// Effect is the relative effect: relative risk − 1 for error rates,
	// Hodges-Lehmann shift / baseline median for latency; EffectLower and
	// EffectUpper its confidence limits (a confidence sequence for error
	// rates).
	Effect      Number `json:"effect"`
	EffectLower Number `json:"effectLower"`
	EffectUpper Number `json:"effectUpper"`
	// Difference is the absolute effect: canary − baseline error rate, or
	// the Hodges-Lehmann shift in the samples' unit.
	Difference Number `json:"difference"`
	// AllowedEffect echoes the metric's tolerance; Condition the threshold.
	AllowedEffect float64 `json:"allowedEffect"`
	Condition     string  `json:"condition,omitempty"`
}

// GroupScore is one group's part of the score.
type GroupScore struct {
	// Name is the group's name and Weight its weight in the score.
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	// Passed, Failed and Undecided count the group's metrics by verdict.
	Passed    int `json:"passed"`
	Failed    int `json:"failed"`
	Undecided int `json:"undecided"`
	// Score is 100·Passed/metrics; ScoreUpper counts undecided metrics as
	// passing (the best the group can still reach).
	Score      float64 `json:"score"`
	ScoreUpper float64 `json:"scoreUpper"`
}

// Report is a whole analysis's verdict.
type Report struct {
	// Verdict is the analysis's verdict and Reason one line on why.
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Score is the weighted group score (0–100) counting undecided metrics
	// as not passing; ScoreUpper counts them as passing.
	Score      float64 `json:"score"`
	ScoreUpper float64 `json:"scoreUpper"`
	// PassScore and MarginalScore are the thresholds applied.
	PassScore     float64 `json:"passScore"`
	MarginalScore float64 `json:"marginalScore"`
	// ComparedWith is "baseline" (a fresh copy of stable beside the canary)
	// or "stable" (the long-running stable: caches and heap differ, so
	// read the verdicts with that in mind).
	ComparedWith string `json:"comparedWith"`
	// Look is Config.Look: which evaluation of the analysis this is.
	Look int `json:"look,omitempty"`
	// Groups holds each group's part of the score, by name.
	Groups []GroupScore `json:"groups"`
	// Metrics holds every metric's result, in configuration order.
	Metrics []MetricResult `json:"metrics"`
}

// NeedsData reports whether an Inconclusive analysis is waiting for data:
// at least one of its undecided metrics is short of it.
func (r Report) NeedsData() bool {
	if r.Verdict != Inconclusive {
		return false
	}
	for _, m := range r.Metrics {
		if m.Verdict == Inconclusive && m.NeedsData {
			return true
		}
	}
	return false
}
