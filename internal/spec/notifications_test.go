package spec

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

func TestValidateNotificationsNamesFields(t *testing.T) {
	cfg := v1alpha1.Notifications{
		Receivers: []v1alpha1.Receiver{
			{Name: "ok", Webhook: &v1alpha1.WebhookReceiver{URL: "https://hooks.example.com/x"}},
			{Name: "s", Slack: &v1alpha1.SlackReceiver{WebhookURL: "ftp://hooks.slack.com/x"}},
			{Name: "ok", Webhook: &v1alpha1.WebhookReceiver{URL: "http://h", Headers: map[string]string{"Bad Name": "v", "X-Ok": "a\r\nInjected: 1"}}},
			{Name: ""},
			{Name: "both", Webhook: &v1alpha1.WebhookReceiver{URL: "http://h"}, Slack: &v1alpha1.SlackReceiver{WebhookURL: "http://h"}},
		},
		Routes: []v1alpha1.NotificationRoute{
			{Receivers: []string{"ok", "nope"}},
			{Events: []string{""}, Rollouts: []string{"[bad"}},
		},
	}
	err := ValidateNotifications(cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"receivers[1].slack.webhookURL: must be an http or https URL",
		`receivers[2].name: "ok" is already the name of receivers[0]`,
		`receivers[2].webhook.headers.Bad Name: "Bad Name" is not a valid header name`,
		`receivers[2].webhook.headers.X-Ok: value contains a control character`,
		"receivers[3].name: required",
		"receivers[3]: set one of webhook, slack",
		"receivers[4]: set only one of webhook, slack",
		`routes[0].receivers[1]: unknown receiver "nope"`,
		"routes[1].receivers: required",
		"routes[1].events[0]: empty",
		`routes[1].rollouts[0]: bad pattern "[bad"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if err := ValidateNotifications(v1alpha1.Notifications{}); err != nil {
		t.Errorf("empty config: %v", err)
	}
}

// TestNotificationsYAMLFieldNames pins the kanaria.yaml spelling documented in
// docs/notifications.md: the YAML library reads the json tags.
func TestNotificationsYAMLFieldNames(t *testing.T) {
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
	var c v1alpha1.Notifications
	if err := yaml.UnmarshalWithOptions([]byte(doc), &c, yaml.DisallowUnknownField()); err != nil {
		t.Fatal(err)
	}
	if err := ValidateNotifications(c); err != nil {
		t.Fatal(err)
	}
	if c.Receivers[0].Slack.WebhookURL == "" || c.Receivers[0].Slack.Channel != "#releases" ||
		c.Receivers[1].Webhook.Headers["Authorization"] != "Bearer abc" ||
		len(c.Routes[0].Events) != 3 || c.Routes[1].Rollouts[0] != "checkout-*" {
		t.Fatalf("decoded %+v", c)
	}
}
