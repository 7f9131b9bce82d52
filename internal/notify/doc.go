// Package notify tells people what a release is doing: it sends rollout
// events (started, step reached, analysis failed, promoted, ...) to generic
// JSON webhooks and Slack incoming webhooks, routed per event type and
// rollout so failures can go to their own channel.
//
// Delivery is decoupled from the release: Notify only enqueues, each receiver
// has its own bounded queue and goroutine, and a receiver that is slow, down
// or hanging loses its own oldest events rather than holding up the engine
// or the other receivers.
package notify
