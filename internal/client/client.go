// Package client is the typed Go client for kanaria's control-plane API (the
// routes and types are in internal/wire). It covers every route the server
// answers but the dashboard's login and session pages, which are a
// browser's; the CLI uses it and nothing else to talk to a control plane, and
// so can scripts and tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// callTimeout bounds every call but the watch streams: each is small and
// local, and a hung control plane should make the CLI fail, not hang with it.
const callTimeout = 30 * time.Second

// Client talks to one control plane.
type Client struct {
	base  string
	token string
	http  *http.Client
	// stream has no overall timeout: a watch lasts as long as its context.
	stream *http.Client
}

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:7070)
// authenticating with token.
func New(baseURL, token string) *Client {
	return &Client{
		base:   strings.TrimRight(baseURL, "/"),
		token:  token,
		http:   &http.Client{Timeout: callTimeout},
		stream: &http.Client{},
	}
}

// FromStateDir finds the control plane that `kanaria up` started with this
// state directory, from the endpoint and token files it wrote.
func FromStateDir(stateDir string) (*Client, error) { return Discover(stateDir, "", "") }

// Discover finds a control plane as wire.Discover does: serverURL and
// tokenFile, when not empty, win over what `kanaria up` wrote into
// stateDir. Errors wrap wire.ErrNoControlPlane when nothing is there.
func Discover(stateDir, serverURL, tokenFile string) (*Client, error) {
	ep, err := wire.Discover(stateDir, serverURL, tokenFile)
	if err != nil {
		return nil, err
	}
	return New(ep.URL, ep.Token), nil
}

// BaseURL is the API this client talks to.
func (c *Client) BaseURL() string { return c.base }

// APIError is an error answer from the server: its status code and its
// message, worded for people.
type APIError struct {
	StatusCode int
	Message    string
}

// Error is the server's message alone: it is already worded for people
// ("rollout web: already paused").
func (e *APIError) Error() string { return e.Message }

// IsNotFound reports an unknown rollout, or a route this control plane does
// not serve (404).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsConflict reports a command that does not apply now (409).
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

func statusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// Health checks that the control plane answers (GET /healthz, no token).
func (c *Client) Health(ctx context.Context) error {
	return c.getText(ctx, "/healthz", io.Discard)
}

// Metrics copies the Prometheus text exposition (GET /metrics) to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	return c.getText(ctx, "/metrics", w)
}

// Info describes the control plane.
func (c *Client) Info(ctx context.Context) (wire.Info, error) {
	var info wire.Info
	return info, c.getJSON(ctx, "/v1/info", &info)
}

// List returns every rollout.
func (c *Client) List(ctx context.Context) ([]wire.RolloutView, error) {
	var views []wire.RolloutView
	return views, c.getJSON(ctx, "/v1/rollouts", &views)
}

// Get returns one rollout.
func (c *Client) Get(ctx context.Context, name string) (wire.RolloutView, error) {
	var v wire.RolloutView
	return v, c.getJSON(ctx, rolloutPath(name, ""), &v)
}

// Do sends a command and returns the rollout as it is afterwards.
func (c *Client) Do(ctx context.Context, name string, cmd engine.Command) (wire.RolloutView, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return wire.RolloutView{}, err
	}
	resp, err := c.send(ctx, c.http, http.MethodPost, rolloutPath(name, string(cmd.Kind)), body)
	if err != nil {
		return wire.RolloutView{}, err
	}
	defer resp.Body.Close()
	var v wire.RolloutView
	return v, decode(resp, &v)
}

// Events returns up to limit events with an ID greater than after, oldest
// first.
func (c *Client) Events(ctx context.Context, name string, after int64, limit int) ([]wire.Event, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var evs []wire.Event
	return evs, c.getJSON(ctx, rolloutPath(name, "events")+"?"+q.Encode(), &evs)
}

// Logs copies the last tail lines of a revision's (or its baseline copy's)
// output to w. An empty revision lets the control plane choose.
func (c *Client) Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error {
	q := url.Values{"tail": {strconv.Itoa(tail)}}
	if revision != "" {
		q.Set("revision", revision)
	}
	if baseline {
		q.Set("baseline", "true")
	}
	return c.getText(ctx, rolloutPath(name, "logs")+"?"+q.Encode(), w)
}

// Analysis returns a rollout's current or last analyses with their reports.
func (c *Client) Analysis(ctx context.Context, name string) ([]wire.AnalysisRun, error) {
	var runs []wire.AnalysisRun
	return runs, c.getJSON(ctx, rolloutPath(name, "analysis"), &runs)
}

// Diff returns the comparison of a rollout's mirrored answers (shadow
// traffic). 404 (IsNotFound) when it never mirrored.
func (c *Client) Diff(ctx context.Context, name string) (wire.DiffReport, error) {
	var rep wire.DiffReport
	return rep, c.getJSON(ctx, rolloutPath(name, "diff"), &rep)
}

// History returns a rollout's per-second metrics at or after since, oldest
// first. A control plane that keeps no history answers 404 (IsNotFound).
func (c *Client) History(ctx context.Context, name string, since time.Time) ([]wire.HistoryPoint, error) {
	q := url.Values{"since": {strconv.FormatInt(max(since.UnixMilli(), 0), 10)}}
	var pts []wire.HistoryPoint
	return pts, c.getJSON(ctx, rolloutPath(name, "history")+"?"+q.Encode(), &pts)
}

// rolloutPath is /v1/rollouts/{name}, or /v1/rollouts/{name}/{sub}.
func rolloutPath(name, sub string) string {
	p := "/v1/rollouts/" + url.PathEscape(name)
	if sub != "" {
		p += "/" + url.PathEscape(sub)
	}
	return p
}

func (c *Client) getJSON(ctx context.Context, path string, dst any) error {
	resp, err := c.send(ctx, c.http, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, dst)
}

// getText copies a plain-text answer to w.
func (c *Client) getText(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, c.http, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			// The endpoint file outlives the process that wrote it.
			return nil, fmt.Errorf("no kanaria control plane answers at %s (is `kanaria up` running?)", c.base)
		}
		return nil, err
	}
	return resp, nil
}

func decode(resp *http.Response, dst any) error {
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(dst); err != nil {
		return fmt.Errorf("decode %s response: %w", resp.Request.URL.Path, err)
	}
	return nil
}

// apiError turns an error answer into an *APIError, keeping the server's
// words; a body that is not the API's JSON (a proxy, another program on the
// port) is quoted briefly instead.
func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var body jsonhttp.Error
	msg := ""
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		msg = body.Error
	} else {
		msg = fmt.Sprintf("%s from %s: %s", resp.Status, resp.Request.URL.Host, strings.TrimSpace(string(b)))
	}
	return &APIError{StatusCode: resp.StatusCode, Message: msg}
}
