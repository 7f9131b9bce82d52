package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// aliveTimeout bounds Alive: the control plane asks every tick, and a data
// plane that takes longer than this to say who it is counts as not
// answering this time.
const aliveTimeout = time.Second

// Alive asks the data plane who it is. The id changes when another process
// serves the state directory than the one this client last knew (after a
// Restart, or one started by someone else): that one knows nothing of the
// platforms and the table defined in the old one. An error wrapping
// ErrNotRunning means no data plane serves the socket at all: it was
// killed, or stopped.
func (c *Client) Alive(ctx context.Context) (id string, err error) {
	ctx, cancel := context.WithTimeout(ctx, aliveTimeout)
	defer cancel()
	var info Info
	if err := c.do(ctx, http.MethodGet, "/v1/info", nil, &info); err != nil {
		return "", err
	}
	return infoID(info), nil
}

// ID is the identity of the data plane this client last knew (see Alive).
func (c *Client) ID() string { return infoID(c.Info()) }

// infoID names a data plane process; the start time tells a reused pid
// apart.
func infoID(i Info) string {
	return fmt.Sprintf("pid %d started %s", i.PID, i.StartedAt.UTC().Format("15:04:05.000000000"))
}

// Restart starts a new data plane the way Ensure started (or found) the
// last one, when none answers, and points this client at it: the same
// socket, the new process's info. A data plane that does answer is kept
// (nothing is started twice). It serves an empty table and runs nothing:
// the caller defines the platforms again, ensures the versions and sends
// the table. Only a client of Ensure can restart.
func (c *Client) Restart(ctx context.Context) error {
	c.mu.Lock()
	o := c.start
	c.mu.Unlock()
	if o == nil {
		return errors.New("data plane: this client did not start the data plane (Connect), so it cannot start another")
	}
	nc, err := ensure(ctx, c.stateDir, *o)
	if err != nil {
		return err
	}
	defer nc.Close()
	// The old connections lead to a socket nobody serves any more.
	c.hc.CloseIdleConnections()
	if err := c.loadToken(); err != nil {
		return err
	}
	c.mu.Lock()
	c.info = nc.Info()
	c.mu.Unlock()
	return nil
}
