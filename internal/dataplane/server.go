package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Options configure a data plane server.
type Options struct {
	// StateDir holds the socket, lock, info file, token and logs.
	StateDir string
	// Listen is the router's address, e.g. "127.0.0.1:8080" (port 0 picks
	// a free one; Info.RouterURL tells which).
	Listen string
	// KanariaPath is the {{.Kanaria}} of local command templates. Default:
	// this executable.
	KanariaPath string
	// Logger receives what the data plane does; nil discards.
	Logger *slog.Logger
	// Ready, if set, is called once the data plane serves.
	Ready func(Info)
}

// shutdownBudget bounds stopping the processes on shutdown: their grace
// periods overlap (platform.Local stops in parallel), so this only has to
// cover the longest one.
const shutdownBudget = 60 * time.Second

// maxSocketPath is the room a unix socket path has on Linux (sun_path is
// 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Run serves a data plane until ctx ends or a client asks it to shut down;
// either way it drains the router, stops every process it started, removes
// its socket and info file, and returns nil. It refuses to start when
// another data plane holds the state directory.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger
	if o.KanariaPath == "" {
		o.KanariaPath, _ = os.Executable()
	}
	if o.Listen == "" {
		// An empty address would listen on every interface.
		return errors.New("dataplane: a router listen address is required")
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	unlock, err := lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	auth, err := newAuth(dir)
	if err != nil {
		return err
	}
	rt, err := router.New(router.Config{})
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	defer rt.Close()
	routerLn, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("router listen: %w", err)
	}
	sockLn, err := listenSocket(filepath.Join(dir, wire.DataPlaneSocket))
	if err != nil {
		routerLn.Close()
		return err
	}
	info := Info{PID: os.Getpid(), RouterURL: urlOf(routerLn.Addr()), StartedAt: time.Now().UTC()}

	pfs := newPlatforms(filepath.Join(dir, wire.LogDir), o.KanariaPath, log)
	shutdownReq := make(chan chan<- shutdownResult, 1)
	stopped := make(chan struct{})
	api := &api{router: rt, platforms: pfs, info: info, shutdown: shutdownReq, stopped: stopped}
	ctl := &http.Server{Handler: auth.wrap(api.routes()), ReadHeaderTimeout: 10 * time.Second}

	routerCtx, stopRouter := context.WithCancel(context.Background())
	defer stopRouter()
	errc := make(chan error, 2)
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		// An empty Config: the drain budget and header limits are the
		// router's defaults; the table itself comes through Update.
		errc <- router.Serve(routerCtx, routerLn, rt, router.Config{})
	}()
	go func() {
		if err := ctl.Serve(sockLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("control API: %w", err)
		}
	}()
	if err := writeInfo(dir, info); err != nil {
		log.Error("cannot write the info file", "file", wire.DataPlaneInfo, "err", err)
	}
	log.Info("serving", "pid", info.PID, "router", info.RouterURL, "socket", filepath.Join(dir, wire.DataPlaneSocket))
	if o.Ready != nil {
		o.Ready(info)
	}

	var reply chan<- shutdownResult
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("signal: shutting down")
	case reply = <-shutdownReq:
		log.Info("shutdown requested")
	case runErr = <-errc:
		log.Error("serving failed", "err", runErr)
	}

	// Traffic first: stop accepting and let in-flight requests finish
	// while their upstreams still run; then stop the upstreams.
	stopRouter()
	serving.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	n, closeErr := pfs.closeAll(sctx)
	log.Info("stopped", "instances", n)
	os.Remove(filepath.Join(dir, wire.DataPlaneInfo))
	os.Remove(filepath.Join(dir, wire.DataPlaneSocket))
	if reply != nil {
		reply <- shutdownResult{Stopped: n, Err: errString(closeErr)}
	}
	close(stopped)
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	ctl.Shutdown(cctx)
	return runErr
}

// shutdownResult answers POST /v1/shutdown once everything is stopped.
type shutdownResult struct {
	// Stopped is how many instances (revisions or baseline copies) were
	// still running and got stopped.
	Stopped int    `json:"stopped"`
	Err     string `json:"error,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// urlOf is the router's URL as clients should use it: a wildcard listen
// address is reached through loopback.
func urlOf(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := ta.IP.String()
	if ta.IP == nil || ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port))
}

// listenSocket opens the control socket readable and writable by this user
// only. The umask covers the moment between bind and chmod, so the socket
// is never reachable by others, even briefly. A socket left by a data plane
// that was killed is removed first: holding the lock proves nobody serves it.
func listenSocket(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, longer than a unix socket allows (%d); use a shorter --state-dir", path, len(path), maxSocketPath)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}
