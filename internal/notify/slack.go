package notify

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// slackFormat posts to a Slack incoming webhook: a plain "text" (used for
// the phone notification and by clients without blocks) and the same line as
// a mrkdwn section block, plus a context line with the details.
type slackFormat struct{ cfg v1alpha1.SlackReceiver }

type slackPayload struct {
	Channel string       `json:"channel,omitempty"`
	Text    string       `json:"text"`
	Blocks  []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (s slackFormat) url() string { return s.cfg.WebhookURL }

func (s slackFormat) header() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

func (s slackFormat) encode(m message) ([]byte, error) {
	ev := m.Event
	line := slackLine(ev)
	p := slackPayload{
		Channel: s.cfg.Channel,
		Text:    line,
		Blocks:  []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: line}}},
	}
	if ctx := slackContext(ev); ctx != "" {
		p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: ctx}}})
	}
	return json.Marshal(p)
}

// slackEmoji makes the kind of event visible at a glance: red for failure,
// green for success.
func slackEmoji(ev Event) string {
	switch strings.ToLower(ev.Type) {
	case "started":
		return ":rocket:"
	case "stepreached":
		return ":arrow_forward:"
	case "paused":
		return ":double_vertical_bar:"
	}
	switch SeverityOf(ev.Type) {
	case SeverityFailure:
		return ":red_circle:"
	case SeverityWarning:
		return ":large_yellow_circle:"
	case SeveritySuccess:
		return ":large_green_circle:"
	}
	return ":information_source:"
}

// slackLine is "🔴 *checkout* AnalysisFailed (v2): error rate 4% · <url|dashboard>".
func slackLine(ev Event) string {
	var b strings.Builder
	b.WriteString(slackEmoji(ev))
	b.WriteString(" *")
	b.WriteString(slackEscape(ev.Rollout))
	b.WriteString("* ")
	b.WriteString(slackEscape(ev.Type))
	if ev.Revision != "" {
		b.WriteString(" (`" + slackEscape(ev.Revision) + "`)")
	}
	if ev.Message != "" {
		b.WriteString(": ")
		b.WriteString(slackEscape(ev.Message))
	}
	if ev.DashboardURL != "" {
		b.WriteString(" · <" + slackLinkURL(ev.DashboardURL) + "|dashboard>")
	}
	return b.String()
}

// slackContext lists the event's fields in a stable order, then its time.
func slackContext(ev Event) string {
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, slackEscape(k)+": "+slackEscape(ev.Fields[k]))
	}
	if !ev.Time.IsZero() {
		parts = append(parts, ev.Time.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " · ")
}

// slackEscape escapes the three characters Slack's mrkdwn treats as control
// characters, so a message like "p99 < 200ms" is not read as a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackLinkURL makes a URL safe inside <url|label>: a "|" or ">" in it would
// end the URL early.
func slackLinkURL(u string) string {
	return strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(u)
}
