package controlplane

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/analysis/provider"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Analysis in the control plane: every tick, for the running analysis step
// and the background analysis of a release, the router samples that
// finished since the last tick are added to the analysis's own Window
// (cumulative counts per status and a bounded latency reservoir: the
// router's ring holds only seconds at high rates), each metric's provider
// is asked at its interval, and the judge re-judges with Config.Look
// counting evaluations. The verdict goes to the engine as an observation,
// which decides (Fail aborts, a finished step passes or pauses). The latest
// report of each run stays in memory for the API.

// analysisFetchTimeout bounds one remote provider call: the rollout's tick
// waits for it.
const analysisFetchTimeout = 3 * time.Second

// analysisRun is one analysis of one release: the step's or the background.
type analysisRun struct {
	key     string // identifies the run; a new key starts afresh
	view    wire.AnalysisRun
	window  *provider.Window
	metrics []judge.Metric
	provs   []provider.Provider
	every   []time.Duration
	next    []time.Time
	inputs  map[string]judge.Input
	running bool
}

// analysisState is one rollout's analyses, guarded by the rollout's mu.
type analysisState struct {
	background, step *analysisRun
	// cursor is, per router version, the newest sample already added.
	cursor map[router.Version]int64
}

// analyze runs the release's analyses for this tick and puts their
// verdicts into obs. Called from reconcile with r.mu held.
func (c *ControlPlane) analyze(ctx context.Context, r *rollout, obs *engine.Observations) {
	st, now := r.status, time.Now()
	a := &r.analysis
	a.background = c.syncRun(r, a.background, backgroundKey(r.spec, st), -1, now)
	a.step = c.syncRun(r, a.step, stepKey(r.spec, st), st.StepIndex, now)
	if !a.background.isRunning() && !a.step.isRunning() {
		return
	}
	c.collect(r, now)
	if run := a.background; run.isRunning() {
		obs.BackgroundAnalysis = c.judgeRun(ctx, r, run, now)
	}
	if run := a.step; run.isRunning() {
		obs.StepAnalysis = c.judgeRun(ctx, r, run, now)
	}
}

// endStaleAnalyses marks runs ended as soon as a transition leaves their
// step or release, so the API never shows a finished analysis as running.
func (r *rollout) endStaleAnalyses() {
	a := &r.analysis
	if run := a.background; run.isRunning() && run.key != backgroundKey(r.spec, r.status) {
		run.running, run.view.Running = false, false
	}
	if run := a.step; run.isRunning() && run.key != stepKey(r.spec, r.status) {
		run.running, run.view.Running = false, false
	}
}

func (run *analysisRun) isRunning() bool { return run != nil && run.running }

// backgroundKey is "" when no background analysis should run.
func backgroundKey(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) string {
	cs := sp.Spec.Strategy.Canary
	if cs == nil || cs.Analysis == nil || !releasing(st) {
		return ""
	}
	return fmt.Sprintf("background|%s|%d", st.CanaryRevision, st.StartedAt.UnixNano())
}

// stepKey is "" unless the current step is an analysis step that is still
// judging (not one that ended inconclusive and waits for a human).
func stepKey(sp v1alpha1.Rollout, st v1alpha1.RolloutStatus) string {
	cs := sp.Spec.Strategy.Canary
	if cs == nil || !releasing(st) || st.StepIndex >= len(cs.Steps) || cs.Steps[st.StepIndex].Analysis == nil || st.PausedBy == engine.PausedByInconclusive {
		return ""
	}
	return fmt.Sprintf("step|%s|%d|%d|%d", st.CanaryRevision, st.StartedAt.UnixNano(), st.StepIndex, st.StepStartedAt.UnixNano())
}

// releasing: a ready canary is in a release, so it gets traffic to judge.
func releasing(st v1alpha1.RolloutStatus) bool {
	return (st.Phase == v1alpha1.PhaseProgressing || st.Phase == v1alpha1.PhasePaused) && st.CanaryReady && st.CanaryRevision != ""
}

// syncRun keeps run if its key still applies, ends it (keeping its last
// report) when no analysis should run, or starts a new one.
func (c *ControlPlane) syncRun(r *rollout, run *analysisRun, key string, step int, now time.Time) *analysisRun {
	switch {
	case key == "" && run != nil:
		run.running, run.view.Running = false, false
		return run
	case key == "" || (run != nil && run.key == key):
		return run
	}
	sp, st := r.spec.Spec, r.status
	var refs []v1alpha1.MetricRef
	nv := wire.AnalysisRun{Kind: "background", Revision: st.CanaryRevision, ComparedWith: sp.ComparedWith(), StartedAt: now, Running: true}
	if step >= 0 {
		refs = sp.Strategy.Canary.Steps[step].Analysis.Metrics
		nv.Kind, nv.Step = "step", step+1
	} else {
		refs = sp.Strategy.Canary.Analysis.Metrics
	}
	nv.CompareRevision = st.StableRevision
	h := fnv.New64a()
	h.Write([]byte(key))
	nr := &analysisRun{key: key, view: nv, window: provider.NewWindow(h.Sum64()), inputs: map[string]judge.Input{}, running: true}
	for _, m := range sp.Resolve(refs) {
		p, err := provider.New(m, nr.window)
		nr.metrics = append(nr.metrics, judge.FromSpec(m))
		nr.provs = append(nr.provs, p) // nil: the error is the metric's input
		nr.every = append(nr.every, m.EffectiveInterval())
		nr.next = append(nr.next, now)
		if err != nil {
			nr.inputs[m.Name] = judge.Input{Err: err}
		}
	}
	c.log.Info("analysis started", "rollout", r.spec.Metadata.Name, "kind", nv.Kind, "revision", nv.Revision,
		"metrics", len(nr.metrics), "comparedWith", nv.ComparedWith)
	return nr
}

// collect adds the router samples that finished since the last tick to
// every running analysis that had begun by then. Samples of a revision
// other than the expected one (a previous canary's leftovers) are skipped.
func (c *ControlPlane) collect(r *rollout, now time.Time) {
	a := &r.analysis
	if a.cursor == nil {
		a.cursor = map[router.Version]int64{}
	}
	st, name := r.status, r.spec.Metadata.Name
	// The canary and the version it is compared with; both copies of the
	// comparison run the stable revision.
	roles := []struct {
		v   router.Version
		rev string
	}{{router.Canary, st.CanaryRevision}, {router.Version(r.spec.Spec.ComparedWith()), st.StableRevision}}
	runs := []*analysisRun{a.background, a.step}
	for _, role := range roles {
		since := earliestStart(runs)
		if cur := a.cursor[role.v]; cur >= since.UnixNano() {
			since = time.Unix(0, cur+1)
		}
		if c.router.Counts(name, role.v).Revision != role.rev {
			continue // the router has not served this revision yet
		}
		for _, s := range c.router.Samples(name, role.v, since) {
			a.cursor[role.v] = max(a.cursor[role.v], s.UnixNano)
			for _, run := range runs {
				if run.isRunning() && s.UnixNano >= run.view.StartedAt.UnixNano() {
					run.window.Add(string(role.v), role.rev, s.Status, s.Latency)
				}
			}
		}
	}
}

func earliestStart(runs []*analysisRun) time.Time {
	var t time.Time
	for _, run := range runs {
		if run.isRunning() && (t.IsZero() || run.view.StartedAt.Before(t)) {
			t = run.view.StartedAt
		}
	}
	return t
}

// judgeRun asks the providers that are due and re-judges when anything
// was fetched; it returns the run's latest verdict for the engine.
func (c *ControlPlane) judgeRun(ctx context.Context, r *rollout, run *analysisRun, now time.Time) *engine.AnalysisResult {
	q := provider.Query{Rollout: r.spec.Metadata.Name, Revision: run.view.Revision, ComparedWith: run.view.ComparedWith,
		CompareRevision: run.view.CompareRevision, Start: run.view.StartedAt, Now: now}
	fetched := false
	for i, p := range run.provs {
		if p == nil || now.Before(run.next[i]) {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, analysisFetchTimeout)
		run.inputs[run.metrics[i].Name] = provider.Fetch(fctx, p, q)
		cancel()
		run.next[i] = now.Add(run.every[i])
		fetched = true
	}
	if fetched || run.view.Looks == 0 {
		run.view.Looks++
		cfg := judge.Config{ComparedWith: run.view.ComparedWith, Look: run.view.Looks}
		if as := r.spec.Spec.Analysis; as != nil {
			cfg.PassScore, cfg.MarginalScore = as.PassScore, as.MarginalScore
		}
		run.view.Report = judge.Judge(run.metrics, run.inputs, cfg)
		run.view.UpdatedAt = now
		cd, _ := run.window.Snapshot("canary")
		od, _ := run.window.Snapshot(run.view.ComparedWith)
		run.view.CanaryRequests, run.view.CompareRequests = cd.Total, od.Total
	}
	step := -1
	if run.view.Kind == "step" {
		step = run.view.Step - 1
	}
	return &engine.AnalysisResult{Revision: run.view.Revision, Step: step, Verdict: run.view.Report.Verdict.String(),
		CanaryRequests: run.view.CanaryRequests, Summary: summarizeRun(run.view)}
}

// summarizeRun is one line with the numbers behind a run's verdict, for
// events and notifications: the decisive metrics first.
func summarizeRun(v wire.AnalysisRun) string {
	rep := v.Report
	var parts []string
	for _, m := range rep.Metrics {
		if rep.Verdict == judge.Fail && m.Verdict != judge.Fail {
			continue
		}
		parts = append(parts, metricLine(m, v.ComparedWith))
	}
	what := "background analysis"
	if v.Kind == "step" {
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

// Analysis returns a rollout's current or last analyses.
func (c *ControlPlane) Analysis(ctx context.Context, name string) ([]wire.AnalysisRun, error) {
	r, ok := c.rollouts[name]
	if !ok {
		return nil, wire.ErrNotFound
	}
	return r.analysisViews(), nil
}

func (r *rollout) analysisViews() []wire.AnalysisRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wire.AnalysisRun
	for _, run := range []*analysisRun{r.analysis.background, r.analysis.step} {
		if run != nil {
			out = append(out, run.view)
		}
	}
	return out
}
