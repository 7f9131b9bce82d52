package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
	"github.com/kanaria-dev/kanaria/internal/wire"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// ErrNotRunning: no data plane serves the state directory.
var ErrNotRunning = errors.New("no data plane running")

// Timeouts of client calls whose context has no deadline: every call is
// bounded, so a data plane that hangs is an error, never a stuck control
// plane.
const (
	callTimeout = 10 * time.Second
	// stopTimeout covers Stop and Shutdown, which wait out the processes'
	// grace periods.
	stopTimeout = 90 * time.Second
)

// Client talks to a running data plane over its unix socket. It is safe
// for concurrent use.
type Client struct {
	stateDir string
	sock     string
	hc       *http.Client

	mu    sync.Mutex
	token string
	info  Info
	// start is how Ensure started (or found) the data plane; Restart
	// starts the next one the same way. nil for a client of Connect.
	start *StartOptions
}

// APIError is a refusal by the data plane (a non-2xx answer).
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("data plane: %s (HTTP %d)", e.Message, e.Status)
}

// Connect attaches to the data plane already running for stateDir. It
// fails with an error wrapping ErrNotRunning when there is none.
func Connect(stateDir string) (*Client, error) {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	c := &Client{stateDir: dir, sock: filepath.Join(dir, wire.DataPlaneSocket)}
	c.hc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.sock)
		},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}}
	if err := c.loadToken(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var info Info
	if err := c.do(ctx, http.MethodGet, "/v1/info", nil, &info); err != nil {
		c.Close()
		return nil, err
	}
	c.info = info
	return c, nil
}

// loadToken reads the state directory's token, if it has one.
func (c *Client) loadToken() error {
	tok, err := wire.ReadToken(filepath.Join(c.stateDir, wire.TokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		tok, err = "", nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.token = tok
	c.mu.Unlock()
	return nil
}

// Info is what the data plane said about itself when the client connected
// (or when Restart started the next one).
func (c *Client) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// RouterURL is where the data plane's router serves ("http://127.0.0.1:8080").
func (c *Client) RouterURL() string { return c.Info().RouterURL }

// StateDir is the (absolute) state directory of the data plane.
func (c *Client) StateDir() string { return c.stateDir }

// Close drops the client's idle connections. The data plane keeps running.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// do sends one JSON call and decodes a JSON answer into out (if not nil).
// A 401 re-reads the token once: the control plane may have created it
// after this client connected.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return err
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return fmt.Errorf("data plane %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns transport failures and non-2xx
// answers into errors; the caller closes the body of a nil-error answer.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	resp, err := c.sendOnce(ctx, method, path, in, true)
	if err != nil {
		cancel()
		return nil, err
	}
	// The body is read after send returns: the timeout ends with its Close.
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// withDefaultTimeout bounds ctx by d unless it already has a deadline.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (c *Client) sendOnce(ctx context.Context, method, path string, in any, retry401 bool) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://dataplane"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.mu.Lock()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	c.mu.Unlock()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && retry401 {
		if c.loadToken() == nil {
			return c.sendOnce(ctx, method, path, in, false)
		}
	}
	var eb jsonhttp.Error
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &eb) != nil || eb.Error == "" {
		eb.Error = string(bytes.TrimSpace(raw))
	}
	return nil, &APIError{Status: resp.StatusCode, Message: eb.Error}
}

// transportError says plainly that the data plane is gone when the socket
// is missing or refuses, rather than showing a dial error.
func (c *Client) transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if _, serr := os.Stat(c.sock); serr != nil || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w for state dir %s (socket %s: %v)", ErrNotRunning, c.stateDir, c.sock, op.Err)
		}
	}
	return fmt.Errorf("data plane at %s: %w", c.sock, err)
}

// cancelBody releases a call's timeout once its answer has been read.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// query builds a path with query parameters.
func query(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// UpdateRouter swaps the router's table; a table the router refuses comes
// back as an *APIError with the validation message, and nothing changes.
func (c *Client) UpdateRouter(ctx context.Context, cfg router.Config) error {
	return c.do(ctx, http.MethodPut, "/v1/router/config", cfg, nil)
}

// RouterConfig returns the table in force, defaults applied.
func (c *Client) RouterConfig(ctx context.Context) (router.Config, error) {
	var cfg router.Config
	err := c.do(ctx, http.MethodGet, "/v1/router/config", nil, &cfg)
	return cfg, err
}

// Weights returns the weights in force for release; ok is false when the
// table has no such release.
func (c *Client) Weights(ctx context.Context, release string) (w v1alpha1.Weights, ok bool, err error) {
	err = c.do(ctx, http.MethodGet, "/v1/router/weights/"+url.PathEscape(release), nil, &w)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return v1alpha1.Weights{}, false, nil
	}
	if err != nil {
		return v1alpha1.Weights{}, false, err
	}
	return w, true, nil
}

// Samples returns the router's samples of release+version that finished
// at or after since (the zero time: all it keeps), oldest first.
func (c *Client) Samples(ctx context.Context, release string, v router.Version, since time.Time) ([]router.Sample, error) {
	s := ""
	if !since.IsZero() {
		s = strconv.FormatInt(since.UnixNano(), 10)
	}
	var out []router.Sample
	err := c.do(ctx, http.MethodGet, query("/v1/router/samples", "release", release, "version", string(v), "since", s), nil, &out)
	return out, err
}

// MirrorReport returns the comparison of release's mirrored answers; ok
// is false when the release never mirrored.
func (c *Client) MirrorReport(ctx context.Context, release string) (rep shadow.Report, ok bool, err error) {
	err = c.do(ctx, http.MethodGet, "/v1/router/mirror/"+url.PathEscape(release), nil, &rep)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return shadow.Report{}, false, nil
	}
	return rep, err == nil, err
}

// Counts returns the router's counters of release+version.
func (c *Client) Counts(ctx context.Context, release string, v router.Version) (router.Counts, error) {
	var out router.Counts
	err := c.do(ctx, http.MethodGet, query("/v1/router/counts", "release", release, "version", string(v)), nil, &out)
	return out, err
}

// Shutdown asks the data plane to drain its router, stop every process and
// exit, and waits until the process has exited. It returns how many
// instances were stopped.
func (c *Client) Shutdown(ctx context.Context) (stopped int, err error) {
	ctx, cancel := withDefaultTimeout(ctx, stopTimeout)
	defer cancel()
	var res shutdownResult
	if err := c.do(ctx, http.MethodPost, "/v1/shutdown", nil, &res); err != nil {
		return 0, err
	}
	c.Close()
	// The lock is released by the kernel when the process is gone.
	for i := 0; locked(c.stateDir); i++ {
		if i >= 200 || ctx.Err() != nil {
			return res.Stopped, fmt.Errorf("data plane pid %d answered the shutdown but has not exited", c.Info().PID)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if res.Err != "" {
		return res.Stopped, fmt.Errorf("data plane stopped, with errors: %s", res.Err)
	}
	return res.Stopped, nil
}
