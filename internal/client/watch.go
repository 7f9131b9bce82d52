package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// ErrWatchEnded is returned by Watch and WatchAll when the control plane
// closed the stream (it is shutting down); a caller that wants to keep
// watching calls again.
var ErrWatchEnded = errors.New("the control plane ended the watch stream")

// maxEventBytes bounds one Server-Sent Event: a page of a thousand events
// is far below it.
const maxEventBytes = 16 << 20

// Update is one event of a watch stream; the field its Kind names is set.
type Update struct {
	// Kind is the event's name: wire.WatchRollout, WatchEvents,
	// WatchPoints, WatchRollouts or WatchProblem.
	Kind string
	// Rollout is the rollout as it is now (WatchRollout).
	Rollout wire.RolloutView
	// Rollouts are all of them as they are now (WatchRollouts).
	Rollouts []wire.RolloutView
	// Events are new events, oldest first (WatchEvents).
	Events []wire.Event
	// Points are new seconds of metrics (WatchPoints).
	Points []wire.HistoryPoint
	// Problem is why the control plane could not read the rollout this
	// time; the stream goes on (WatchProblem).
	Problem string
}

// Watch follows one rollout (GET /v1/rollouts/{name}/watch): the rollout
// first and on every change, its events after the event ID after, and new
// seconds of metrics. It calls fn for each update until ctx ends (nil), fn
// fails (its error), or the stream ends (ErrWatchEnded). An unknown rollout
// is an *APIError before any update.
func (c *Client) Watch(ctx context.Context, name string, after int64, fn func(Update) error) error {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	return c.watch(ctx, rolloutPath(name, "watch")+"?"+q.Encode(), fn)
}

// WatchAll follows every rollout (GET /v1/watch): the list first and on
// every change, as Watch does for one.
func (c *Client) WatchAll(ctx context.Context, fn func(Update) error) error {
	return c.watch(ctx, "/v1/watch", fn)
}

func (c *Client) watch(ctx context.Context, path string, fn func(Update) error) error {
	resp, err := c.send(ctx, c.stream, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	err = readEvents(resp.Body, func(event string, data []byte) error {
		u, err := parseUpdate(event, data)
		if err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		return fn(u)
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// readEvents splits a text/event-stream into events and calls fn with each
// one's name and data; comment lines (heartbeats) are skipped.
func readEvents(r io.Reader, fn func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if event != "" || data != nil {
				if err := fn(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case line[0] == ':':
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return ErrWatchEnded
}

// parseUpdate decodes one event's data by its name.
func parseUpdate(event string, data []byte) (Update, error) {
	u := Update{Kind: event}
	var dst any
	switch event {
	case wire.WatchRollout:
		dst = &u.Rollout
	case wire.WatchRollouts:
		dst = &u.Rollouts
	case wire.WatchEvents:
		dst = &u.Events
	case wire.WatchPoints:
		dst = &u.Points
	case wire.WatchProblem:
		var p jsonhttp.Error
		if err := json.Unmarshal(data, &p); err != nil {
			return u, fmt.Errorf("%s event: %w", event, err)
		}
		u.Problem = p.Error
		return u, nil
	default:
		return u, nil // a newer server's event: Kind alone says what it was
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return u, fmt.Errorf("%s event: %w", event, err)
	}
	return u, nil
}
