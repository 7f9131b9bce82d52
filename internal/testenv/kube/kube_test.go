package kube

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	kubev1alpha1 "github.com/kanaria-dev/kanaria/api/kube/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/testenv/netns"
)

// backend is an HTTPRoute backendRef to Service name with weight w.
func backend(name string, w int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(name),
			Port: new(gatewayv1.PortNumber(80)),
		},
		Weight: new(w),
	}}
}

func route(name string, refs ...gatewayv1.HTTPBackendRef) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{
				ParentRefs: []gatewayv1.ParentReference{{Name: "gateway"}},
			},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: refs}},
		},
	}
}

// The Gateway API CRDs are installed with their schemas: an HTTPRoute's weights
// (parts per million, as the gatewayAPI provider will write them) read back as
// written, and a weight above the schema's maximum is refused.
func TestHTTPRouteWeights(t *testing.T) {
	env := Start(t, Options{CRDDirs: []string{GatewayAPICRDs(t)}})
	ctx := context.Background()

	r := route("web", backend("web-stable", 999_000), backend("web-canary", 1_000))
	if err := env.Client.Create(ctx, r); err != nil {
		t.Fatalf("create HTTPRoute: %v", err)
	}
	var got gatewayv1.HTTPRoute
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(r), &got); err != nil {
		t.Fatalf("get HTTPRoute: %v", err)
	}
	weights := map[string]int32{}
	for _, ref := range got.Spec.Rules[0].BackendRefs {
		weights[string(ref.Name)] = *ref.Weight
	}
	if weights["web-stable"] != 999_000 || weights["web-canary"] != 1_000 || len(weights) != 2 {
		t.Fatalf("weights read back = %v, want web-stable 999000, web-canary 1000", weights)
	}

	err := env.Client.Create(ctx, route("too-heavy", backend("web-stable", 1_000_001)))
	if !apierrors.IsInvalid(err) {
		t.Fatalf("weight 1000001: err = %v, want Invalid (the CRD's maximum is 1000000)", err)
	}
}

// kanaria's Rollout CRD installs from config/crd and serves the Go type: a
// Rollout written through the typed client reads back with its revision.
func TestKanariaRollout(t *testing.T) {
	env := Start(t, Options{CRDDirs: []string{KanariaCRDs(t)}})
	ctx := context.Background()
	ro := &kubev1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}}
	ro.Spec.Revision = "v1"
	if err := env.Client.Create(ctx, ro); err != nil {
		t.Fatalf("create Rollout: %v", err)
	}
	var got kubev1alpha1.Rollout
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ro), &got); err != nil {
		t.Fatalf("get Rollout: %v", err)
	}
	if got.Spec.Revision != "v1" {
		t.Fatalf("revision read back = %q, want v1", got.Spec.Revision)
	}
}

// endpointSlice is what the endpoint-slice controller would write for one pod of
// Service svc at addr:8080.
func endpointSlice(name, svc, addr string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{
			Name: new("http"), Port: new(int32(8080)), Protocol: new(corev1.ProtocolTCP),
		}},
	}
}

// No kubelet runs, so the test plays the pod and the endpoint-slice controller:
// the API server accepts an EndpointSlice whose address is in a test network
// namespace and refuses a loopback one, and the server behind the accepted
// address answers from the root namespace at the address and port read back.
func TestEndpointSliceInNamespace(t *testing.T) {
	ns := netns.New(t)
	podAddr := ns.AddAddr(t)
	env := Start(t, Options{})
	ctx := context.Background()

	if err := env.Client.Create(ctx, endpointSlice("web-pod", "web", podAddr.String())); err != nil {
		t.Fatalf("EndpointSlice with %s refused: %v", podAddr, err)
	}
	err := env.Client.Create(ctx, endpointSlice("web-loopback", "web", "127.0.0.1"))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not be in the loopback range") {
		t.Fatalf("EndpointSlice with 127.0.0.1: err = %v, want Invalid, loopback range", err)
	}

	var got discoveryv1.EndpointSlice
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-pod"}, &got); err != nil {
		t.Fatal(err)
	}
	addr, err := netip.ParseAddr(got.Endpoints[0].Addresses[0])
	if err != nil {
		t.Fatal(err)
	}
	at := netip.AddrPortFrom(addr, uint16(*got.Ports[0].Port))
	ln := ns.Listen(t, at)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pod web-pod")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	resp, err := http.Get("http://" + at.String() + "/")
	if err != nil {
		t.Fatalf("GET the pod at %s from the root namespace: %v", at, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "pod web-pod" {
		t.Fatalf("pod at %s answered %q", at, body)
	}
}

// The assets directory must hold both binaries, executable.
func TestFindAssets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(AssetsEnv, dir)
	if _, reason := findAssets(); !strings.Contains(reason, "kube-apiserver") {
		t.Fatalf("empty directory: reason %q, want kube-apiserver missing", reason)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, bin), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, reason := findAssets(); !strings.Contains(reason, "not executable") {
		t.Fatalf("non-executable files: reason %q, want not executable", reason)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		os.Chmod(filepath.Join(dir, bin), 0o755)
	}
	if got, reason := findAssets(); got != dir || reason != "" {
		t.Fatalf("findAssets() = %q, %q; want %q", got, reason, dir)
	}
	t.Setenv(AssetsEnv, "")
	if _, reason := findAssets(); reason == "" {
		t.Fatal("unset variable accepted")
	}
}
