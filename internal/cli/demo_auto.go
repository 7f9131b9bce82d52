package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/verify"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// demoScript drives the demo's scripted release against a running control
// plane, through its API as a user's commands would.
type demoScript struct {
	b       *client.Client
	router  string
	out     io.Writer
	start   time.Time
	results []string
	// goodVerdict is the verdict v2's analysis step ended with, as the
	// summary states it ("Pass", or "Inconclusive (promoted past by the
	// script)").
	goodVerdict string
}

// runDemoAuto starts a control plane on ephemeral loopback ports, runs the
// script, and stops everything.
func runDemoAuto(ctx context.Context, rollouts []v1alpha1.Rollout, stateDir string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	started := make(chan upRunning, 1)
	upErr := make(chan error, 1)
	go func() {
		upErr <- runUp(ctx, upOptions{
			Rollouts: rollouts, Listen: "127.0.0.1:0", API: "127.0.0.1:0", StateDir: stateDir,
			Tick: 100 * time.Millisecond,
		}, io.Discard, func(r upRunning) { started <- r })
	}()
	var run upRunning
	select {
	case run = <-started:
	case err := <-upErr:
		return fmt.Errorf("demo: control plane did not start: %w", err)
	}
	fmt.Fprintf(out, "demo: control plane up, router %s\n", run.RouterURL)
	d := &demoScript{b: client.New(run.APIURL, run.Token), router: run.RouterURL, out: out, start: time.Now()}
	scriptErr := d.run(ctx)
	cancel()
	if err := <-upErr; err != nil && scriptErr == nil {
		scriptErr = err
	}
	fmt.Fprintln(out, "demo summary:")
	for _, r := range d.results {
		fmt.Fprintln(out, "  "+r)
	}
	if scriptErr != nil {
		return fmt.Errorf("demo failed: %w", scriptErr)
	}
	fmt.Fprintf(out, "demo: v2's analysis step ended %s; v2 released and undone; bad v3 rolled back by analysis; in %.1fs\n",
		d.goodVerdict, time.Since(d.start).Seconds())
	return nil
}

// demoLoadRate is the demo's own traffic through the router while a
// release runs, so analysis has requests to judge (bounded by the script's
// context and demoLoadMax).
const (
	demoLoadRate = 300
	demoLoadMax  = 300 * 240
)

func (d *demoScript) run(ctx context.Context) error {
	const name = "demo"
	if err := d.waitPhase(ctx, name, "v1 serving", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhaseHealthy && d.serves("v1") }); err != nil {
		return err
	}
	load := startDemoLoad(ctx, d.router+"/", demoLoadRate, demoLoadMax)
	defer load.Stop()
	fmt.Fprintf(d.out, "  demo traffic: %d req/s through the router for the analysis to judge\n", demoLoadRate)
	if err := d.releaseGood(ctx, name); err != nil {
		return err
	}
	return d.releaseBad(ctx, name, load)
}

// releaseGood releases v2: its analysis step must pass (or, if it ends
// Inconclusive, the script says so and promotes past it, as a human would),
// then the split is verified, v2 promoted, and undone.
func (d *demoScript) releaseGood(ctx context.Context, name string) error {
	if err := d.do(ctx, name, engine.Command{Kind: engine.CmdStart, Revision: "v2"}); err != nil {
		return err
	}
	if err := d.waitPhase(ctx, name, "v2 at 10%: analysis step decided", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhasePaused && s.Weights.CanaryPPM == 100_000
	}); err != nil {
		return err
	}
	v, err := d.b.Get(ctx, name)
	if err != nil {
		return err
	}
	d.noteAnalysis(v, "step")
	d.goodVerdict = "Pass"
	if v.Status.PausedBy == engine.PausedByInconclusive {
		d.goodVerdict = "Inconclusive (the script promoted past it)"
		d.note("v2's analysis step was Inconclusive: the script promotes past it, as a human would")
		if err := d.do(ctx, name, engine.Command{Kind: engine.CmdPromote}); err != nil {
			return err
		}
		if err := d.waitPhase(ctx, name, "v2 waiting for promote at 10%", func(s v1alpha1.RolloutStatus) bool {
			return s.Phase == v1alpha1.PhasePaused && s.PausedBy == engine.PausedByStep
		}); err != nil {
			return err
		}
	}
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return d.verifySplit(ctx, "v2", "v1", 10) },
		func(ctx context.Context) error { return d.do(ctx, name, engine.Command{Kind: engine.CmdPromote}) },
		func(ctx context.Context) error {
			return d.waitPhase(ctx, name, "v2 promoted to stable", func(s v1alpha1.RolloutStatus) bool {
				return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "v2" && d.serves("v2")
			})
		},
		func(ctx context.Context) error { return d.do(ctx, name, engine.Command{Kind: engine.CmdUndo}) },
		func(ctx context.Context) error {
			return d.waitPhase(ctx, name, "undo: v1 stable again", func(s v1alpha1.RolloutStatus) bool {
				return s.StableRevision == "v1" && d.serves("v1")
			})
		},
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// releaseBad starts v3 (30 % errors) and lets analysis roll it back: no
// abort is sent. It reports the time from v3's first request (as the
// demo's traffic saw it) to 0 % canary (as the control plane reports it).
func (d *demoScript) releaseBad(ctx context.Context, name string, load *demoLoad) error {
	if err := d.do(ctx, name, engine.Command{Kind: engine.CmdStart, Revision: "v3"}); err != nil {
		return err
	}
	if err := d.waitPhase(ctx, name, "v3 rolled back by analysis, v1 serves 100%", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseAborted && s.Weights.CanaryPPM == 0
	}); err != nil {
		return err
	}
	zero := time.Now()
	v, err := d.b.Get(ctx, name)
	if err != nil {
		return err
	}
	d.noteAnalysis(v, "")
	if first := load.firstSeen("v3"); first.IsZero() {
		d.note("v3 never answered a request before the rollback")
	} else {
		d.note("bad v3: %.1f s from its first canary request to 0%% canary (the analysis, not the script, aborted it)", zero.Sub(first).Seconds())
	}
	if !strings.Contains(v.Status.Message, "analysis failed") {
		return fmt.Errorf("v3 was aborted, but not by analysis: %s", v.Status.Message)
	}
	return d.waitPhase(ctx, name, "v1 serves again", func(v1alpha1.RolloutStatus) bool { return d.serves("v1") })
}

// noteAnalysis records the deciding analysis's verdict with its numbers
// (kind "step", "background", or "" for whichever failed).
func (d *demoScript) noteAnalysis(v wire.RolloutView, kind string) {
	for _, run := range v.Analysis {
		if (kind == "" && run.Report.Verdict.String() == engine.VerdictFail) || run.Kind == kind {
			d.note("%s analysis of %s: %s after %d canary / %d %s requests (%s)", run.Kind, run.Revision, run.Report.Verdict,
				run.CanaryRequests, run.CompareRequests, run.ComparedWith, run.Report.Reason)
			return
		}
	}
}

// do sends a command and records it.
func (d *demoScript) do(ctx context.Context, name string, cmd engine.Command) error {
	if _, err := d.b.Do(ctx, name, cmd); err != nil {
		return fmt.Errorf("%s: %w", cmd.Kind, err)
	}
	d.note("%s %s", cmd.Kind, cmd.Revision)
	return nil
}

// waitPhase polls the rollout until cond holds, printing each step it passes.
func (d *demoScript) waitPhase(ctx context.Context, name, what string, cond func(v1alpha1.RolloutStatus) bool) error {
	lastStep, lastPhase := -1, v1alpha1.Phase("")
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		v, err := d.b.Get(ctx, name)
		if err != nil {
			return err
		}
		s := v.Status
		if s.StepIndex != lastStep || s.Phase != lastPhase {
			fmt.Fprintf(d.out, "  %6.1fs  %-11s step %d/%d  canary %s  baseline %s  %s\n", time.Since(d.start).Seconds(), s.Phase,
				s.StepIndex, len(v.Steps), s.Weights.CanaryPPM, s.Weights.BaselinePPM, s.Message)
			lastStep, lastPhase = s.StepIndex, s.Phase
		}
		if cond(s) {
			d.note("%s", what)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("timed out waiting for: %s", what)
}

// serves reports whether a plain request through the router is answered by
// the revision (no cookie, so the request lands in a fresh random bucket;
// with the canary at 0 % that is stable).
func (d *demoScript) serves(revision string) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(d.router + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Kanaria-Version") == revision
}

// verifySplit proves the split with real requests, as `kanaria verify` does.
func (d *demoScript) verifySplit(ctx context.Context, canary, stable string, pct float64) error {
	res, err := verify.Run(ctx, verify.Options{
		URL: d.router + "/", Requests: 2000, CanaryRevision: canary, StableRevision: stable, ExpectCanaryPct: pct,
	}, io.Discard)
	if err != nil {
		return err
	}
	line := res.Summary()
	fmt.Fprintln(d.out, "  "+line)
	if !res.OK() {
		return fmt.Errorf("verify: %s", line)
	}
	d.note("verified: %s", line)
	return nil
}

func (d *demoScript) note(format string, args ...any) {
	d.results = append(d.results, fmt.Sprintf("%6.1fs  ", time.Since(d.start).Seconds())+fmt.Sprintf(format, args...))
}
