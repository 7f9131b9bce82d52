package notify

import (
	"net/http"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// message is one event on its way to one receiver. ID is shared by every
// receiver and every retry of the same event, so a receiver can drop the
// duplicates that retries after a timeout inevitably produce.
type message struct {
	ID    string
	Event Event
}

// format is one receiver wire format: where to POST and what bytes to send.
// encode runs once per event, so every retry sends identical bytes.
type format interface {
	url() string
	header() http.Header
	encode(m message) ([]byte, error)
}

// newFormat picks the format for a validated receiver.
func newFormat(r v1alpha1.Receiver) format {
	if r.Slack != nil {
		return slackFormat{cfg: *r.Slack}
	}
	return webhookFormat{cfg: *r.Webhook}
}
