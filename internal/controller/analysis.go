package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/internal/analysis/run"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// Analysis in the cluster keeps its runs with the one machine's code
// (internal/analysis/run: the step's and the background's, their providers
// at each metric's interval, remote ones asked beside the pass so a
// provider that hangs holds up no reconcile, the judge), and the verdicts
// go to the engine the same way. The runs live in the controller's memory
// of the Rollout.
//
// Router metrics merge the samples of every router replica: each live
// replica (a router Lease renewed within its duration) publishes its admin
// API's URL in its Lease, and on each pass the controller asks each one for
// the samples of the canary and of the version it is compared with that
// finished since the newest it already has of that replica
// (GET /v1/releases/<namespace>.<rollout>/samples, router.SamplesView),
// with the bearer token of the Secret the replicas share
// (--router-admin-secret, key "token"). Counts add up and latencies go
// into the one reservoir per version, as if one router had served every
// request. The Leases are the replicas the traffic read-back counts too,
// so a replica that serves is one whose samples are read.
//
// What is lost, and said so: a replica's ring keeps its latest 8,192
// samples per version, so above about that many requests per version and
// replica between two passes (PollInterval, 1 s by default) the oldest are
// not seen; a replica killed loses what it had not been asked for yet; a
// controller restarted begins its runs afresh: it stores no evidence, as
// the one machine's control plane does (the step's timer goes on from the
// status, and a step's run counts from the step's start what the replicas
// still hold). Sample times are the replicas' clocks.

// replicaFetchTimeout bounds one replica's answer: the pass waits for it.
const replicaFetchTimeout = 2 * time.Second

// adminTokenTTL is how long the admin token read from its Secret is used
// before it is read again (at once after a replica refused it).
const adminTokenTTL = time.Minute

// replicaSamples reads the router replicas' samples.
type replicaSamples struct {
	leases    client.Reader // the cache of router Leases
	direct    client.Reader // the admin token Secret, uncached (get only)
	namespace string        // of the Leases and the Secret
	secret    string
	http      *http.Client

	mu      sync.Mutex
	token   string
	tokenAt time.Time
}

// replica is one live router replica's admin API.
type replica struct{ name, adminURL string }

// replicas lists the live router replicas that publish an admin URL.
func (rs *replicaSamples) replicas(ctx context.Context, now time.Time) ([]replica, error) {
	var list coordinationv1.LeaseList
	if err := rs.leases.List(ctx, &list, client.InNamespace(rs.namespace), client.MatchingLabels{traffic.RouterComponentLabel: traffic.RouterComponent}); err != nil {
		return nil, err
	}
	var out []replica
	for i := range list.Items {
		l := &list.Items[i]
		if !traffic.LeaseLive(l, now) {
			continue
		}
		rep, err := traffic.ParseRouterReport(l.Annotations)
		if err != nil || rep.AdminURL == "" {
			continue
		}
		out = append(out, replica{name: l.Name, adminURL: rep.AdminURL})
	}
	return out, nil
}

// adminToken is the routers' admin token, from its Secret.
func (rs *replicaSamples) adminToken(ctx context.Context, now time.Time) (string, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.token != "" && now.Sub(rs.tokenAt) < adminTokenTTL {
		return rs.token, nil
	}
	var sec corev1.Secret
	if err := rs.direct.Get(ctx, types.NamespacedName{Namespace: rs.namespace, Name: rs.secret}, &sec); err != nil {
		return "", fmt.Errorf("the router admin token Secret %s/%s: %w", rs.namespace, rs.secret, err)
	}
	tok := string(sec.Data[traffic.RouterAdminTokenKey])
	if tok == "" {
		return "", fmt.Errorf("the router admin token Secret %s/%s has no key %s", rs.namespace, rs.secret, traffic.RouterAdminTokenKey)
	}
	rs.token, rs.tokenAt = tok, now
	return tok, nil
}

// forget drops the token after a replica refused it (rotated).
func (rs *replicaSamples) forget() {
	rs.mu.Lock()
	rs.token = ""
	rs.mu.Unlock()
}

// errRefused is a replica answering 401: the token is not its.
var errRefused = errors.New("the router replica refused the admin token")

// fetch asks one replica for a version's samples since a time.
func (rs *replicaSamples) fetch(ctx context.Context, rep replica, token, release, version string, since int64) (router.SamplesView, error) {
	var v router.SamplesView
	ctx, cancel := context.WithTimeout(ctx, replicaFetchTimeout)
	defer cancel()
	u := rep.adminURL + "/v1/releases/" + url.PathEscape(release) + "/samples?" +
		url.Values{"version": {version}, "since": {strconv.FormatInt(since, 10)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := rs.http.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return v, errRefused
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return v, fmt.Errorf("%s: %s %s", u, resp.Status, b)
	}
	// A ring of samples of a few versions: bounded by the router.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&v); err != nil {
		return v, fmt.Errorf("%s: %w", u, err)
	}
	return v, nil
}

// analysis runs the release's analyses for this pass and puts their
// verdicts into obs.
func (p *pass) analysis(ctx context.Context, obs *engine.Observations) {
	a := &p.mem.analysis
	_, viaRouter := p.tp.(*traffic.Router)
	opts := run.Options{RouterData: viaRouter, StageFromStepStart: true}
	for _, r := range a.Sync(p.spec, p.st, opts, p.now) {
		v := r.View()
		p.log.Info("analysis started", "kind", v.Kind, "revision", v.Revision, "comparedWith", v.ComparedWith, "routerSamples", viaRouter)
	}
	if !a.Running() {
		p.mem.cursor = nil
		return
	}
	if viaRouter {
		p.collect(ctx)
	}
	a.Judge(ctx, p.spec, p.now, obs)
}

// replicaSamples is the reader of the router replicas' samples, made on
// first use from the Reconciler's fields.
func (r *Reconciler) replicaSamples() *replicaSamples {
	r.samplesOnce.Do(func() {
		secret := r.RouterAdminSecret
		if secret == "" {
			secret = DefaultRouterAdminSecret
		}
		r.samples = &replicaSamples{leases: r.Client, direct: r.Direct, namespace: r.RouterNamespace, secret: secret,
			http: &http.Client{Timeout: replicaFetchTimeout}}
	})
	return r.samples
}

// collect adds every live replica's new samples of the canary and of the
// version it is compared with to the running analyses. A replica that
// cannot be read is skipped this pass (its samples are read on the next,
// while its ring still has them).
func (p *pass) collect(ctx context.Context) {
	rs := p.r.replicaSamples()
	reps, err := rs.replicas(ctx, p.now)
	if err != nil {
		p.log.Warn("analysis: listing the router replicas", "err", err)
		return
	}
	if len(reps) == 0 {
		return
	}
	token, err := rs.adminToken(ctx, p.now)
	if err != nil {
		p.log.Warn("analysis: the router replicas' samples cannot be read", "err", err)
		return
	}
	if p.mem.cursor == nil {
		p.mem.cursor = map[string]int64{}
	}
	a := &p.mem.analysis
	release := traffic.RouterReleaseName(p.ro.Namespace, p.ro.Name)
	for _, rep := range reps {
		for _, role := range run.Roles(p.spec, p.st) {
			ck := rep.name + "|" + role.Version
			since, _ := a.Since(role.Version)
			from := since.UnixNano()
			if c, ok := p.mem.cursor[ck]; ok && c >= from {
				from = c + 1
			}
			v, err := rs.fetch(ctx, rep, token, release, role.Version, from)
			if errors.Is(err, errRefused) {
				rs.forget()
			}
			if err != nil {
				p.log.Warn("analysis: reading a router replica's samples", "replica", rep.name, "version", role.Version, "err", err)
				continue
			}
			if v.Revision != role.Revision {
				continue // the replica does not route this revision (yet)
			}
			for _, s := range v.Samples {
				p.mem.cursor[ck] = max(p.mem.cursor[ck], s.UnixNano)
				a.Add(role, time.Unix(0, s.UnixNano), s.Status, s.Latency)
			}
		}
	}
}
