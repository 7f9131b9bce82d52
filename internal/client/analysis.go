package client

import (
	"context"
	"net/url"

	"github.com/kanaria-dev/kanaria/internal/server"
)

// Analysis returns a rollout's current or last analyses with their reports.
func (c *Client) Analysis(ctx context.Context, name string) ([]server.AnalysisRun, error) {
	var runs []server.AnalysisRun
	return runs, c.getJSON(ctx, "/v1/rollouts/"+url.PathEscape(name)+"/analysis", &runs)
}
