// Package client is a small typed Go client for kanaria's control-plane API
// (see internal/server for the routes). The CLI uses it; so can scripts and
// tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/server"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// Client talks to one control plane.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:7070)
// authenticating with token.
func New(baseURL, token string) *Client {
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		// Every call is small and local; a hung control plane should make
		// the CLI fail, not hang with it.
		http: &http.Client{Timeout: 30 * time.Second},
	}
}

// ErrNoControlPlane means the state directory holds no endpoint or token:
// `kanaria up` has not run there.
var ErrNoControlPlane = errors.New("no kanaria control plane found")

// FromStateDir finds the control plane that `kanaria up` started with this
// state directory, from the endpoint and token files it wrote.
func FromStateDir(stateDir string) (*Client, error) {
	endpoint, err := server.ReadEndpoint(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noControlPlane(stateDir)
	}
	if err != nil {
		return nil, err
	}
	token, err := server.ReadToken(filepath.Join(stateDir, server.TokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noControlPlane(stateDir)
	}
	if err != nil {
		return nil, err
	}
	return New(endpoint, token), nil
}

func noControlPlane(stateDir string) error {
	return fmt.Errorf("%w in %s (run `kanaria up`)", ErrNoControlPlane, stateDir)
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

// IsNotFound reports an unknown rollout (404).
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

// Info describes the control plane.
func (c *Client) Info(ctx context.Context) (server.Info, error) {
	var info server.Info
	return info, c.getJSON(ctx, "/v1/info", &info)
}

// List returns every rollout.
func (c *Client) List(ctx context.Context) ([]server.RolloutView, error) {
	var views []server.RolloutView
	return views, c.getJSON(ctx, "/v1/rollouts", &views)
}

// Get returns one rollout.
func (c *Client) Get(ctx context.Context, name string) (server.RolloutView, error) {
	var v server.RolloutView
	return v, c.getJSON(ctx, "/v1/rollouts/"+url.PathEscape(name), &v)
}

// Do sends a command and returns the rollout as it is afterwards.
func (c *Client) Do(ctx context.Context, name string, cmd engine.Command) (server.RolloutView, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return server.RolloutView{}, err
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/rollouts/"+url.PathEscape(name)+"/"+url.PathEscape(string(cmd.Kind)), body)
	if err != nil {
		return server.RolloutView{}, err
	}
	defer resp.Body.Close()
	var v server.RolloutView
	return v, decode(resp, &v)
}

// Events returns up to limit events with an ID greater than after, oldest
// first.
func (c *Client) Events(ctx context.Context, name string, after int64, limit int) ([]store.Event, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var evs []store.Event
	return evs, c.getJSON(ctx, "/v1/rollouts/"+url.PathEscape(name)+"/events?"+q.Encode(), &evs)
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
	resp, err := c.send(ctx, http.MethodGet, "/v1/rollouts/"+url.PathEscape(name)+"/logs?"+q.Encode(), nil)
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

func (c *Client) getJSON(ctx context.Context, path string, dst any) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, dst)
}

func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
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
	resp, err := c.http.Do(req)
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
	var body struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		msg = body.Error
	} else {
		msg = fmt.Sprintf("%s from %s: %s", resp.Status, resp.Request.URL.Host, strings.TrimSpace(string(b)))
	}
	return &APIError{StatusCode: resp.StatusCode, Message: msg}
}
