package controlplane

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// Durable analysis: the evidence of each running analysis
// (run.State.Evidence: the router's counts per status, the latency
// reservoir, the looks taken, the newest sample counted, remote metrics'
// last answers) is written to the store with every transition, in its
// transaction, and as a checkpoint every analysisCheckpoint between
// transitions. A control plane restarted after a kill -9 reads it back and
// each analysis goes on with the same evidence: the samples the router
// served since the checkpoint are still in its ring (the data plane
// outlives the control plane) and are counted from the stored cursor on,
// none twice.

// analysisCheckpoint is how often the evidence of running analyses is
// written between transitions.
const analysisCheckpoint = time.Second

// loadEvidence reads back the stored evidence for the runs to pick up.
func (c *ControlPlane) loadEvidence(ctx context.Context, r *rollout) {
	raw, ok, err := c.store.Analysis(ctx, r.spec.Metadata.Name)
	if err != nil || !ok || len(raw) == 0 {
		if err != nil {
			c.log.Warn("stored analysis evidence is unreadable; analyses start afresh", "rollout", r.spec.Metadata.Name, "err", err)
		}
		return
	}
	var stored []v1alpha1.AnalysisEvidence
	if err := json.Unmarshal(raw, &stored); err != nil {
		c.log.Warn("stored analysis evidence is unreadable; analyses start afresh", "rollout", r.spec.Metadata.Name, "err", err)
		return
	}
	r.analysis.runs.Resume(stored)
}

// evidenceJSON is the rollout's evidence to store.
func (r *rollout) evidenceJSON(now time.Time) []byte {
	raw, err := json.Marshal(r.analysis.runs.Evidence(now))
	if err != nil {
		return nil // nil leaves the stored evidence as it was
	}
	return raw
}

// checkpoint writes the evidence of the running analyses when the last
// write is analysisCheckpoint old.
func (c *ControlPlane) checkpoint(ctx context.Context, r *rollout, now time.Time) {
	if now.Sub(r.analysis.savedAt) < analysisCheckpoint {
		return
	}
	r.analysis.savedAt = now
	if err := c.store.SaveAnalysis(ctx, r.spec.Metadata.Name, r.evidenceJSON(now)); err != nil {
		c.log.Warn("cannot store analysis evidence", "rollout", r.spec.Metadata.Name, "err", err)
	}
}
