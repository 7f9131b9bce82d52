package v1alpha1

// Notifications is a rollout's `notifications:` section: where its events
// are sent (docs/notifications.md).
type Notifications struct {
	// Receivers are the places events can be sent, each with a unique name.
	Receivers []Receiver `json:"receivers,omitempty"`
	// Routes decide which receivers get which events. With no routes every
	// receiver gets every event; with routes, an event goes to the union of
	// the receivers of every route that matches it (each receiver once), and
	// a receiver named by no route gets nothing.
	Routes []NotificationRoute `json:"routes,omitempty"`
}

// Receiver is one destination. Exactly one of Webhook and Slack is set.
type Receiver struct {
	// Name is what routes refer to, and what logs and Stats report.
	Name string `json:"name"`
	// Webhook posts the event as JSON.
	Webhook *WebhookReceiver `json:"webhook,omitempty"`
	// Slack posts to a Slack incoming webhook.
	Slack *SlackReceiver `json:"slack,omitempty"`
}

// WebhookReceiver posts each event as a JSON document (see docs/notifications.md).
type WebhookReceiver struct {
	// URL is an absolute http or https URL.
	URL string `json:"url"`
	// Headers are added to every request, e.g. an Authorization token.
	Headers map[string]string `json:"headers,omitempty"`
}

// SlackReceiver posts to a Slack incoming webhook.
type SlackReceiver struct {
	// WebhookURL is the incoming-webhook URL Slack issued. It is a secret:
	// kanaria never logs it.
	WebhookURL string `json:"webhookURL"`
	// Channel overrides the webhook's channel; only legacy webhooks honour it.
	Channel string `json:"channel,omitempty"`
}

// NotificationRoute sends matching events to receivers. Patterns in Events and Rollouts
// are exact names or shell globs ("checkout-*"); event types compare
// case-insensitively.
type NotificationRoute struct {
	// Events limits the route to these event types; empty means all.
	Events []string `json:"events,omitempty"`
	// Rollouts limits the route to these rollouts; empty means all.
	Rollouts []string `json:"rollouts,omitempty"`
	// Receivers are the names of the receivers that get matching events.
	Receivers []string `json:"receivers"`
}
