package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

// breakdown says where the seconds from the canary's first answer to 0 %
// went, on one clock (the control plane runs on this machine):
//
//   - evidence: until the load had seen as many canary answers as the
//     failing verdict counted, i.e. the traffic the test needed at this
//     weight and rate (the judge's share of the time);
//   - look: from then to the verdict (AnalysisFailed), the wait for the
//     next evaluation plus the sample plumbing from the router;
//   - swap: from the verdict to the last canary answer (the abort's
//     routing table reaching the router, and requests already in flight);
//   - report: from the verdict to the API showing 0 % to this poller.
func breakdown(ctx context.Context, api *client.Client, rollout, canary string, tr *traffic, first, zeroAt time.Time) (string, error) {
	evs, err := api.Events(ctx, rollout, 0, 1000)
	if err != nil {
		return "", err
	}
	var failedAt time.Time
	for _, e := range evs {
		if e.Type == engine.EventAnalysisFailed && e.Time.After(first.Add(-time.Minute)) {
			failedAt = e.Time
		}
	}
	runs, err := api.Analysis(ctx, rollout)
	if err != nil {
		return "", err
	}
	var needed int64
	looks := 0
	for _, r := range runs {
		if r.Revision == canary && r.Report.Verdict.String() == "Fail" {
			needed, looks = r.CanaryRequests, r.Looks
		}
	}
	if failedAt.IsZero() || needed == 0 {
		return "", fmt.Errorf("no failing verdict in the history")
	}
	tr.mu.Lock()
	times := tr.times[canary]
	last := tr.last[canary]
	tr.mu.Unlock()
	evidence := first
	if int(needed) <= len(times) {
		evidence = times[needed-1]
	}
	s := func(a, b time.Time) float64 { return b.Sub(a).Seconds() }
	return fmt.Sprintf("where the time went: evidence %.2f s (%d canary requests the verdict counted), look %.2f s (%d looks), swap %.2f s (last canary answer), report %.2f s",
		s(first, evidence), needed, s(evidence, failedAt), looks, s(failedAt, last), s(failedAt, zeroAt)), nil
}
