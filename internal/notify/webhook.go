package notify

import (
	"encoding/json"
	"net/http"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/version"
)

// WebhookSchema versions the generic webhook's JSON document; it changes only
// when a field is removed or changes meaning.
const WebhookSchema = "kanaria.dev/notify/v1"

// webhookFormat posts the event itself as JSON.
type webhookFormat struct{ cfg v1alpha1.WebhookReceiver }

// webhookPayload is the generic webhook document: the Event's fields at the
// top level, plus a delivery id and who sent it.
type webhookPayload struct {
	ID string `json:"id"`
	Event
	Kanaria webhookSender `json:"kanaria"`
}

// webhookSender tells a receiver which kanaria and which document schema
// produced the payload, so it can cope with old and new senders side by side.
type webhookSender struct {
	Version string `json:"version"`
	Schema  string `json:"schema"`
}

func (w webhookFormat) url() string { return w.cfg.URL }

func (w webhookFormat) header() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	// Configured headers come last so a user can override the defaults.
	for k, v := range w.cfg.Headers {
		h.Set(k, v)
	}
	return h
}

func (w webhookFormat) encode(m message) ([]byte, error) {
	return json.Marshal(webhookPayload{
		ID:      m.ID,
		Event:   m.Event,
		Kanaria: webhookSender{Version: version.String(), Schema: WebhookSchema},
	})
}
