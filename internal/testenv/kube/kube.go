// Package kube is test support: it starts a real Kubernetes API server (a
// kube-apiserver and an etcd, run by controller-runtime's envtest on 127.0.0.1)
// for one test, with the CustomResourceDefinitions the test needs installed.
// No kubelet, scheduler or controller-manager runs: a test that needs pods,
// Deployment status or EndpointSlices writes them itself, standing in for those
// controllers (see the netns package for addresses such objects can point at).
//
// The binaries come from KUBEBUILDER_ASSETS, which the README's test command
// (hack/test.sh) sets after building them with hack/envtest.sh. Without them Start
// skips the test, except under CI (CI set), where it fails: nothing skips in CI.
package kube

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	kubev1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
)

// AssetsEnv names the environment variable with the directory holding the
// kube-apiserver and etcd binaries, as envtest and setup-envtest call it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// startTimeout bounds each control-plane process's start. envtest's default of 20 s
// is too tight on a 2-core machine running other test binaries beside this one;
// a healthy start takes 3–7 s.
const startTimeout = 2 * time.Minute

// Options says what the API server should hold before Start returns.
type Options struct {
	// CRDDirs are directories of CRD manifests (.yaml, .yml, .json; other kinds of
	// objects in them are ignored) to install; a missing directory is an error.
	// KanariaCRDs and GatewayAPICRDs give kanaria's and the Gateway API's.
	CRDDirs []string
	// Scheme is the client's scheme. Default: DefaultScheme().
	Scheme *runtime.Scheme
}

// Env is a running API server and ways to talk to it.
type Env struct {
	// Config authenticates as an admin (system:masters).
	Config *rest.Config
	// Client is a controller-runtime client (no cache) with Options.Scheme.
	Client client.Client
	// Kubeconfig is the path of a kubeconfig file for Config, for processes the
	// test starts (a controller, a router, kubectl).
	Kubeconfig string
	// Scheme is the scheme Client uses.
	Scheme *runtime.Scheme
}

// DefaultScheme returns a new scheme with Kubernetes' built-in types, the
// Gateway API v1 types and kanaria's (kanaria.dev/v1alpha1).
func DefaultScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, gatewayv1.Install, kubev1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

var setLogger sync.Once

// Start starts an API server for t with opts' CRDs installed and stops it when t
// ends. See the package comment for where the binaries come from.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	assets, reason := findAssets()
	if reason != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("Kubernetes API server needed under CI: %s", reason)
		}
		t.Skipf("skipping: %s (run the tests with `bash hack/test.sh`, or export %s=\"$(bash hack/envtest.sh)\")", reason, AssetsEnv)
	}
	// controller-runtime logs through a global logger and complains, with a stack,
	// when none is set; its messages go to stderr, shown by go test on failure.
	setLogger.Do(func() {
		ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil)))
	})

	scheme := opts.Scheme
	if scheme == nil {
		scheme = DefaultScheme()
	}
	noExisting := false
	te := &envtest.Environment{
		// Never a cluster from the environment (USE_EXISTING_CLUSTER): tests talk
		// only to servers they start.
		UseExistingCluster:       &noExisting,
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        opts.CRDDirs,
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: startTimeout,
	}
	te.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	te.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}

	began := time.Now()
	cfg, err := te.Start()
	if err != nil {
		// Start may have left one of the two processes running.
		_ = te.Stop()
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := te.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	t.Logf("API server at %s, started in %v", cfg.Host, time.Since(began).Round(time.Millisecond))

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client for %s: %v", cfg.Host, err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, te.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Env{Config: cfg, Client: c, Kubeconfig: kubeconfig, Scheme: scheme}
}

// findAssets returns the assets directory, or why it cannot be used.
func findAssets() (dir, reason string) {
	dir = os.Getenv(AssetsEnv)
	if dir == "" {
		return "", AssetsEnv + " is not set"
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		fi, err := os.Stat(filepath.Join(dir, bin))
		if err != nil {
			return "", fmt.Sprintf("%s=%s: %v", AssetsEnv, dir, err)
		}
		if fi.Mode()&0o111 == 0 {
			return "", fmt.Sprintf("%s=%s: %s is not executable", AssetsEnv, dir, bin)
		}
	}
	return dir, ""
}

var kanariaDir struct {
	once sync.Once
	dir  string
	err  error
}

// KanariaCRDs returns the directory of kanaria's own CRDs (config/crd/bases, the
// Rollout), as generated by hack/generate.sh from api/kube.
func KanariaCRDs(t testing.TB) string {
	t.Helper()
	d := &kanariaDir
	d.once.Do(func() {
		var dir string
		dir, d.err = moduleDir("github.com/kanaria-dev/kanaria")
		d.dir = filepath.Join(dir, "config", "crd", "bases")
	})
	if d.err != nil {
		t.Fatalf("kanaria CRDs: %v", d.err)
	}
	return d.dir
}

var gatewayAPIDir struct {
	once sync.Once
	dir  string
	err  error
}

// GatewayAPICRDs returns the directory of the Gateway API standard channel CRDs
// (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant, …) shipped in the
// sigs.k8s.io/gateway-api module, at the version go.mod requires: the CRDs always
// match the Go types the client uses, and no copy is kept in this repository.
func GatewayAPICRDs(t testing.TB) string {
	t.Helper()
	d := &gatewayAPIDir
	d.once.Do(func() {
		var dir string
		dir, d.err = moduleDir("sigs.k8s.io/gateway-api")
		d.dir = filepath.Join(dir, "config", "crd", "standard")
	})
	if d.err != nil {
		t.Fatalf("Gateway API CRDs: %v", d.err)
	}
	return d.dir
}

// moduleDir returns the directory of module path's source: the main module's
// root, or where the go command keeps a dependency at the version go.mod
// requires (it is there: this package imports it, so building the test extracted
// it). go test puts its own go first on PATH.
func moduleDir(path string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("go list -m %s: %w", path, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m %s: module not in the module cache", path)
	}
	return dir, nil
}
