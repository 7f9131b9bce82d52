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

// Analysis in the control plane: engine.Analyses says which analyses the
// release's state calls for (the background one, and the current stage's:
// a canary analysis step, blue/green's pre- or post-promotion analysis).
// Every tick, the router samples that finished since the last tick are
// added to each running analysis's own Window (cumulative counts per status
// and a bounded latency reservoir: the router's ring holds only seconds at
// high rates), router metrics are read from it at their interval, and the
// judge re-judges with Config.Look counting evaluations. Remote providers
// (prometheus, web) are asked beside the tick (analysis_fetch.go): a
// provider that hangs delays no tick, no other rollout and no command; its
// answer is judged at the first tick after it came. The verdict goes to the
// engine as an observation, which decides (Fail aborts, a finished step
// passes or pauses). What the judge needs is stored beside the status
// (analysis_evidence.go), so a restarted control plane goes on with the
// same evidence. The latest report of each run stays in memory for the API.

// analysisRun is one analysis of one release: the background one or a
// stage's.
type analysisRun struct {
	ref     engine.AnalysisRef
	view    wire.AnalysisRun
	window  *provider.Window
	metrics []judge.Metric
	provs   []provider.Provider
	remote  []bool
	every   []time.Duration
	next    []time.Time
	inputs  map[string]judge.Input
	running bool
	// cursor is, per router version, the finish time (Unix ns) of the
	// newest sample already added.
	cursor map[router.Version]int64
	// fetch is the state of remote fetches, shared with their goroutines.
	fetch *remoteFetches
}

// analysisState is one rollout's analyses, guarded by the rollout's mu.
type analysisState struct {
	// background and stage are the running (or last) runs.
	background, stage *analysisRun
	// stored is the evidence read back at start-up, taken by the run whose
	// key it has.
	stored []v1alpha1.AnalysisEvidence
	// savedAt is when the evidence was last written.
	savedAt time.Time
}

// analyze runs the release's analyses for this tick and puts their
// verdicts into obs. Called from reconcile with r.mu held.
func (c *ControlPlane) analyze(ctx context.Context, r *rollout, obs *engine.Observations) {
	now := time.Now()
	a := &r.analysis
	bg, stage := splitRefs(engine.Analyses(r.spec, r.status))
	a.background = c.syncRun(r, a.background, bg, now)
	a.stage = c.syncRun(r, a.stage, stage, now)
	a.stored = nil // evidence no run took up belongs to analyses that are over
	if !a.background.isRunning() && !a.stage.isRunning() {
		return
	}
	c.collect(r)
	if run := a.background; run.isRunning() {
		obs.BackgroundAnalysis = c.judgeRun(ctx, r, run, now)
	}
	if run := a.stage; run.isRunning() {
		obs.StepAnalysis = c.judgeRun(ctx, r, run, now)
	}
	c.checkpoint(ctx, r, now)
}

// splitRefs separates the background analysis from the stage's.
func splitRefs(refs []engine.AnalysisRef) (bg, stage *engine.AnalysisRef) {
	for i := range refs {
		if refs[i].Kind == engine.AnalysisBackground {
			bg = &refs[i]
		} else {
			stage = &refs[i]
		}
	}
	return bg, stage
}

// endStaleAnalyses ends runs as soon as a transition leaves their step or
// release, so the API never shows a finished analysis as running and a
// remote fetch still in flight for it is cancelled.
func (r *rollout) endStaleAnalyses() {
	keys := map[string]bool{}
	for _, ref := range engine.Analyses(r.spec, r.status) {
		keys[ref.Key] = true
	}
	for _, run := range []*analysisRun{r.analysis.background, r.analysis.stage} {
		if run.isRunning() && !keys[run.ref.Key] {
			run.end()
		}
	}
}

// stopAnalyses stores the evidence of the running analyses one last time
// and ends them when the control plane closes, so the next one goes on from
// here and no remote fetch outlives this one.
func (c *ControlPlane) stopAnalyses(ctx context.Context, r *rollout) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.analysis.background.isRunning() || r.analysis.stage.isRunning() {
		r.analysis.savedAt = time.Time{}
		c.checkpoint(ctx, r, time.Now())
	}
	for _, run := range []*analysisRun{r.analysis.background, r.analysis.stage} {
		if run.isRunning() {
			run.end()
		}
	}
}

func (run *analysisRun) isRunning() bool { return run != nil && run.running }

// end stops the run, keeping its last report for the API.
func (run *analysisRun) end() {
	run.running, run.view.Running = false, false
	run.fetch.cancel()
}

// syncRun keeps run if ref still names it, ends it (keeping its last
// report) when no analysis should run, or starts a new one, from the stored
// evidence when there is some for it.
func (c *ControlPlane) syncRun(r *rollout, run *analysisRun, ref *engine.AnalysisRef, now time.Time) *analysisRun {
	switch {
	case ref == nil && run.isRunning():
		run.end()
		return run
	case ref == nil || (run.isRunning() && run.ref.Key == ref.Key):
		return run
	case run.isRunning():
		run.end()
	}
	sp, st := r.spec.Spec, r.status
	nv := wire.AnalysisRun{Kind: ref.Kind, Revision: ref.Revision, ComparedWith: sp.ComparedWith(), StartedAt: now, Running: true,
		CompareRevision: st.StableRevision}
	if ref.Kind == engine.AnalysisStep {
		nv.Step = ref.Step + 1
	}
	h := fnv.New64a()
	h.Write([]byte(ref.Key))
	nr := &analysisRun{ref: *ref, view: nv, window: provider.NewWindow(h.Sum64()), inputs: map[string]judge.Input{},
		running: true, cursor: map[router.Version]int64{}, fetch: newRemoteFetches()}
	for _, m := range sp.Resolve(ref.Metrics) {
		p, err := provider.New(m, c.providerEnv(r, nr.window))
		nr.metrics = append(nr.metrics, judge.FromSpec(m))
		nr.provs = append(nr.provs, p) // nil: the error is the metric's input
		nr.remote = append(nr.remote, p != nil && p.Capabilities().Remote)
		nr.every = append(nr.every, m.EffectiveInterval())
		nr.next = append(nr.next, now)
		if err != nil {
			nr.inputs[m.Name] = judge.Input{Err: err}
		}
	}
	resumed := c.restoreRun(r, nr)
	c.log.Info("analysis started", "rollout", r.spec.Metadata.Name, "kind", nv.Kind, "revision", nv.Revision,
		"metrics", len(nr.metrics), "comparedWith", nv.ComparedWith, "resumed", resumed)
	return nr
}

// providerEnv is what a rollout's metric providers may use: the router's
// samples, and on ECS the target groups of the task sets.
func (c *ControlPlane) providerEnv(r *rollout, w *provider.Window) provider.Env {
	env := provider.Env{Router: diffWindow{w, c, r.spec.Metadata.Name, r.status.CanaryRevision}}
	if e := r.spec.Spec.Platform.ECS; e != nil {
		env.TargetGroups, env.AWS = targetGroupsOf{rollout: r.spec.Metadata.Name, pf: r.pf()}, e.AWS
	}
	return env
}

// collect adds the router samples that finished since the last tick to
// every running analysis, counting each sample once per run and none from
// before the run began. Samples of a revision other than the expected one
// (a previous canary's leftovers) are skipped.
func (c *ControlPlane) collect(r *rollout) {
	a := &r.analysis
	st, name := r.status, r.spec.Metadata.Name
	// The canary and the version it is compared with; both copies of the
	// comparison run the stable revision.
	roles := []struct {
		v   router.Version
		rev string
	}{{router.Canary, st.CanaryRevision}, {router.Version(r.spec.Spec.ComparedWith()), st.StableRevision}}
	runs := []*analysisRun{a.background, a.stage}
	for _, role := range roles {
		since, found := time.Time{}, false
		for _, run := range runs {
			if run.isRunning() {
				from := max(run.view.StartedAt.UnixNano(), run.cursor[role.v]+1)
				if !found || from < since.UnixNano() {
					since, found = time.Unix(0, from), true
				}
			}
		}
		if !found || c.router.Counts(name, role.v).Revision != role.rev {
			continue // nothing runs, or the router has not served this revision yet
		}
		for _, s := range c.router.Samples(name, role.v, since) {
			for _, run := range runs {
				if run.isRunning() && s.UnixNano >= run.view.StartedAt.UnixNano() && s.UnixNano > run.cursor[role.v] {
					run.window.Add(string(role.v), role.rev, s.Status, s.Latency)
					run.cursor[role.v] = s.UnixNano
				}
			}
		}
	}
}

// judgeRun asks the providers that are due (remote ones beside the tick)
// and re-judges when anything was fetched or arrived; it returns the run's
// latest verdict for the engine.
func (c *ControlPlane) judgeRun(ctx context.Context, r *rollout, run *analysisRun, now time.Time) *engine.AnalysisResult {
	q := provider.Query{Rollout: r.spec.Metadata.Name, Revision: run.view.Revision, ComparedWith: run.view.ComparedWith,
		CompareRevision: run.view.CompareRevision, Start: run.view.StartedAt, Now: now}
	fetched := run.takeArrivals()
	for i, p := range run.provs {
		if p == nil || now.Before(run.next[i]) {
			continue
		}
		run.next[i] = now.Add(run.every[i])
		if run.remote[i] {
			run.fetch.start(i, p, q)
			continue
		}
		run.inputs[run.metrics[i].Name] = provider.Fetch(ctx, p, q)
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
		// A provider that counts requests itself (cloudwatch) says how
		// many the canary served when the router saw none.
		for _, in := range run.inputs {
			run.view.CanaryRequests = max(run.view.CanaryRequests, in.CanaryTotal)
			run.view.CompareRequests = max(run.view.CompareRequests, in.BaselineTotal)
		}
	}
	return &engine.AnalysisResult{Kind: run.ref.Kind, Revision: run.view.Revision, Step: run.ref.Step,
		Verdict: run.view.Report.Verdict.String(), CanaryRequests: run.view.CanaryRequests,
		NeedsData: run.view.Report.NeedsData(), Summary: summarizeRun(run.view)}
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

// Diff returns the comparison of a rollout's mirrored answers, as the data
// plane's router keeps it (also after the release ended).
func (c *ControlPlane) Diff(ctx context.Context, name string) (wire.DiffReport, error) {
	if _, ok := c.rollouts[name]; !ok {
		return wire.DiffReport{}, wire.ErrNotFound
	}
	rep, ok := c.router.MirrorReport(name)
	if !ok {
		return wire.DiffReport{}, noMirror(name)
	}
	return rep, nil
}

// diffWindow is an analysis's data source: the router samples it
// accumulated, and the router's comparison of mirrored answers of the
// canary revision.
type diffWindow struct {
	*provider.Window
	c        *ControlPlane
	rollout  string
	revision string
}

// MirrorDifference reads the data plane's comparison; one of another
// canary revision (a previous release's) counts as none.
func (d diffWindow) MirrorDifference() (float64, int64, bool) {
	rep, ok := d.c.router.MirrorReport(d.rollout)
	if !ok || rep.Revisions.Candidate != d.revision {
		return 0, 0, false
	}
	return rep.DifferenceAboveNoise, rep.Samples, true
}

// noMirror is the 404 of a rollout that never mirrored.
type noMirror string

func (n noMirror) Error() string {
	return fmt.Sprintf("rollout %s has mirrored no traffic (a setMirror step or spec.strategy.canary.mirror starts it)", string(n))
}

func (noMirror) Is(target error) bool { return target == wire.ErrNotFound }

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
	for _, run := range []*analysisRun{r.analysis.background, r.analysis.stage} {
		if run != nil {
			out = append(out, run.view)
		}
	}
	return out
}
