package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoControlPlane means the state directory holds no endpoint or token:
// `kanaria up` has not run there.
var ErrNoControlPlane = errors.New("no kanaria control plane found")

// Endpoint is how to reach a control plane's API: its base URL and the
// bearer token it requires.
type Endpoint struct {
	URL   string
	Token string
}

// Discover finds the control plane that `kanaria up` started with stateDir,
// from the EndpointFile and TokenFile it wrote there. serverURL and
// tokenFile, when not empty, are used instead of the files (the CLI's
// --server and --token-file). A missing file is reported as
// ErrNoControlPlane, with what to do.
func Discover(stateDir, serverURL, tokenFile string) (Endpoint, error) {
	flags := serverURL != "" || tokenFile != ""
	// What a file that cannot be read means depends on whether the user
	// pointed at another one: then the flag to pass is the advice.
	fail := func(err error, withFlags func(error) error) error {
		switch {
		case flags:
			return withFlags(err)
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w in %s (run `kanaria up`)", ErrNoControlPlane, stateDir)
		}
		return err
	}
	ep := Endpoint{URL: serverURL}
	if ep.URL == "" {
		u, err := ReadEndpoint(stateDir)
		if err != nil {
			return Endpoint{}, fail(err, func(error) error {
				return fmt.Errorf("%w in %s (run `kanaria up`, or pass --server)", ErrNoControlPlane, stateDir)
			})
		}
		ep.URL = u
	}
	path := tokenFile
	if path == "" {
		path = filepath.Join(stateDir, TokenFile)
	}
	tok, err := ReadToken(path)
	if err != nil {
		return Endpoint{}, fail(err, func(err error) error {
			return fmt.Errorf("read API token: %w (pass --token-file)", err)
		})
	}
	ep.Token = tok
	return ep, nil
}

// WriteEndpoint records where the running control plane's API listens, so
// that CLI commands find it without flags. Written atomically: a reader
// sees the old URL or the new one.
func WriteEndpoint(stateDir, apiURL string) error {
	if err := checkAPIURL(apiURL); err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(stateDir, EndpointFile), []byte(apiURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("write endpoint: %w", err)
	}
	return nil
}

// ReadEndpoint returns the API URL written by WriteEndpoint. A missing file
// is reported as fs.ErrNotExist so callers can say "run kanaria up".
func ReadEndpoint(stateDir string) (string, error) {
	path := filepath.Join(stateDir, EndpointFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	u := strings.TrimSpace(string(b))
	if err := checkAPIURL(u); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

func checkAPIURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad API URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bad API URL %q: want http(s)://host:port", s)
	}
	return nil
}
