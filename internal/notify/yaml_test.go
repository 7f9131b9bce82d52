package notify

import (
	"testing"

	"github.com/goccy/go-yaml"
)

// TestYAMLFieldNames pins the kanaria.yaml spelling documented in
// docs/notifications.md: the YAML library reads the json tags.
func TestYAMLFieldNames(t *testing.T) {
	const doc = `
receivers:
  - name: team
    slack:
      webhookURL: https://hooks.slack.com/services/T0/B0/x
      channel: "#releases"
  - name: pager
    webhook:
      url: https://alerts.example.com/kanaria
      headers:
        Authorization: Bearer abc
routes:
  - events: [AnalysisFailed, AnalysisInconclusive, Aborted]
    receivers: [pager, team]
  - events: [Started, Promoted, Finished]
    rollouts: ["checkout-*"]
    receivers: [team]
`
	var c Config
	if err := yaml.UnmarshalWithOptions([]byte(doc), &c, yaml.DisallowUnknownField()); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Receivers[0].Slack.WebhookURL == "" || c.Receivers[0].Slack.Channel != "#releases" ||
		c.Receivers[1].Webhook.Headers["Authorization"] != "Bearer abc" ||
		len(c.Routes[0].Events) != 3 || c.Routes[1].Rollouts[0] != "checkout-*" {
		t.Fatalf("decoded %+v", c)
	}
}
