package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/platform"
	"github.com/kanaria-dev/kanaria/internal/router"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// maxBody bounds request bodies: a routing table with many releases fits
// easily; a runaway client does not exhaust memory.
const maxBody = 8 << 20

// api is the control API served on the unix socket.
type api struct {
	router    *router.Router
	platforms *platforms
	info      Info
	shutdown  chan<- chan<- shutdownResult
	stopped   <-chan struct{} // closed once everything is stopped
}

// StateResponse is GET /v1/platforms/{rollout}/state.
type StateResponse struct {
	State platform.State `json:"state"`
	OK    bool           `json:"ok"`
}

// DefineResponse is POST /v1/platforms/{rollout}.
type DefineResponse struct {
	Capabilities []platform.Capability `json:"capabilities"`
}

func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) { jsonhttp.WriteJSON(w, http.StatusOK, a.info) })
	mux.HandleFunc("POST /v1/shutdown", a.postShutdown)
	mux.HandleFunc("GET /v1/router/config", func(w http.ResponseWriter, _ *http.Request) { jsonhttp.WriteJSON(w, http.StatusOK, a.router.Config()) })
	mux.HandleFunc("PUT /v1/router/config", a.putConfig)
	mux.HandleFunc("GET /v1/router/weights/{release}", a.getWeights)
	mux.HandleFunc("GET /v1/router/samples", a.getSamples)
	mux.HandleFunc("GET /v1/router/counts", a.getCounts)
	mux.HandleFunc("GET /v1/router/mirror/{release}", a.getMirror)
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.router.Telemetry())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/platforms/{rollout}", a.postPlatform)
	mux.HandleFunc("DELETE /v1/platforms/{rollout}", a.deletePlatform)
	mux.HandleFunc("POST /v1/platforms/{rollout}/ensure", a.instanceCall(a.platforms.ensure))
	mux.HandleFunc("POST /v1/platforms/{rollout}/stop", a.instanceCall(a.platforms.stop))
	mux.HandleFunc("GET /v1/platforms/{rollout}/state", a.getState)
	mux.HandleFunc("GET /v1/platforms/{rollout}/logs", a.getLogs)
	return mux
}

func (a *api) putConfig(w http.ResponseWriter, r *http.Request) {
	var cfg router.Config
	if !readJSON(w, r, &cfg) {
		return
	}
	if err := a.router.Update(cfg); err != nil {
		jsonhttp.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, a.router.Config())
}

// getWeights answers GET /v1/router/weights/{release} with the
// v1alpha1.Weights in force: {"canaryPPM": n, "baselinePPM": n}.
func (a *api) getWeights(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("release")
	ws, ok := a.router.Weights(name)
	if !ok {
		jsonhttp.WriteError(w, http.StatusNotFound, fmt.Sprintf("no release %q in the routing table", name))
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, ws)
}

// releaseVersion reads ?release=&version= for the telemetry endpoints.
func releaseVersion(w http.ResponseWriter, r *http.Request) (string, router.Version, bool) {
	q := r.URL.Query()
	v := router.Version(q.Get("version"))
	if q.Get("release") == "" || (v != router.Stable && v != router.Canary && v != router.Baseline) {
		jsonhttp.WriteError(w, http.StatusBadRequest, "want ?release=NAME&version=stable|canary|baseline")
		return "", "", false
	}
	return q.Get("release"), v, true
}

func (a *api) getSamples(w http.ResponseWriter, r *http.Request) {
	rel, v, ok := releaseVersion(w, r)
	if !ok {
		return
	}
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		ns, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			jsonhttp.WriteError(w, http.StatusBadRequest, "since: want unix nanoseconds")
			return
		}
		since = time.Unix(0, ns)
	}
	out := a.router.Telemetry().Samples(rel, v, since)
	if out == nil {
		out = []router.Sample{}
	}
	jsonhttp.WriteJSON(w, http.StatusOK, out)
}

// getMirror answers GET /v1/router/mirror/{release} with the comparison
// of the release's mirrored answers (shadow.Report); 404 when it never
// mirrored.
func (a *api) getMirror(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("release")
	rep, ok := a.router.MirrorReport(name)
	if !ok {
		jsonhttp.WriteError(w, http.StatusNotFound, fmt.Sprintf("release %q has not mirrored anything", name))
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, rep)
}

func (a *api) getCounts(w http.ResponseWriter, r *http.Request) {
	if rel, v, ok := releaseVersion(w, r); ok {
		jsonhttp.WriteJSON(w, http.StatusOK, a.router.Telemetry().Counts(rel, v))
	}
}

func (a *api) postPlatform(w http.ResponseWriter, r *http.Request) {
	var sp v1alpha1.Platform
	if !readJSON(w, r, &sp) {
		return
	}
	caps, err := a.platforms.define(r.PathValue("rollout"), sp)
	if err != nil {
		jsonhttp.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, DefineResponse{Capabilities: caps})
}

func (a *api) deletePlatform(w http.ResponseWriter, r *http.Request) {
	if err := a.platforms.remove(r.Context(), r.PathValue("rollout")); err != nil {
		jsonhttp.WriteError(w, statusOf(err), err.Error())
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, struct{}{})
}

// instanceCall serves ensure and stop, whose body is a platform.Instance of
// the rollout named in the path.
func (a *api) instanceCall(f func(ctx context.Context, in platform.Instance) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in platform.Instance
		if !readJSON(w, r, &in) {
			return
		}
		if in.Rollout == "" {
			in.Rollout = r.PathValue("rollout")
		}
		if in.Rollout != r.PathValue("rollout") {
			jsonhttp.WriteError(w, http.StatusBadRequest, fmt.Sprintf("instance of rollout %s sent to rollout %s", in.Rollout, r.PathValue("rollout")))
			return
		}
		if err := f(r.Context(), in); err != nil {
			jsonhttp.WriteError(w, statusOf(err), err.Error())
			return
		}
		jsonhttp.WriteJSON(w, http.StatusOK, struct{}{})
	}
}

// instanceOf reads ?revision=&baseline= for the state and logs endpoints.
func instanceOf(w http.ResponseWriter, r *http.Request) (platform.Instance, bool) {
	q := r.URL.Query()
	in := platform.Instance{Rollout: r.PathValue("rollout"), Revision: q.Get("revision")}
	if b := q.Get("baseline"); b != "" {
		var err error
		if in.Baseline, err = strconv.ParseBool(b); err != nil {
			jsonhttp.WriteError(w, http.StatusBadRequest, "baseline: want true or false")
			return in, false
		}
	}
	if in.Revision == "" {
		jsonhttp.WriteError(w, http.StatusBadRequest, "want ?revision=REV[&baseline=true]")
		return in, false
	}
	return in, true
}

func (a *api) getState(w http.ResponseWriter, r *http.Request) {
	in, ok := instanceOf(w, r)
	if !ok {
		return
	}
	st, ok, err := a.platforms.state(in)
	if err != nil {
		jsonhttp.WriteError(w, statusOf(err), err.Error())
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, StateResponse{State: st, OK: ok})
}

func (a *api) getLogs(w http.ResponseWriter, r *http.Request) {
	in, ok := instanceOf(w, r)
	if !ok {
		return
	}
	tail := 0
	if t := r.URL.Query().Get("tail"); t != "" {
		var err error
		if tail, err = strconv.Atoi(t); err != nil {
			jsonhttp.WriteError(w, http.StatusBadRequest, "tail: want a number of lines")
			return
		}
	}
	// Logs are written to a buffer first so that a missing log is a clean
	// 404, not a 200 cut short.
	var buf bytes.Buffer
	if err := a.platforms.logs(in, tail, &buf); err != nil {
		jsonhttp.WriteError(w, http.StatusNotFound, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(buf.Bytes())
}

// postShutdown stops everything and answers once it is stopped, so the
// caller knows its processes are gone when the reply arrives.
func (a *api) postShutdown(w http.ResponseWriter, r *http.Request) {
	reply := make(chan shutdownResult, 1)
	select {
	case a.shutdown <- reply:
	case <-a.stopped:
		jsonhttp.WriteJSON(w, http.StatusOK, shutdownResult{})
		return
	}
	select {
	case res := <-reply:
		jsonhttp.WriteJSON(w, http.StatusOK, res)
	case <-a.stopped:
		select {
		case res := <-reply:
			jsonhttp.WriteJSON(w, http.StatusOK, res)
		default:
			jsonhttp.WriteJSON(w, http.StatusOK, shutdownResult{}) // another request or a signal did it
		}
	case <-r.Context().Done():
	}
}

// statusOf maps an error to an HTTP status: an undefined rollout is 404,
// anything else the platform refused is 422 (a well-formed request the
// platform cannot carry out, such as a command that cannot be found).
func statusOf(err error) int {
	if errors.Is(err, errUnknownRollout) {
		return http.StatusNotFound
	}
	return http.StatusUnprocessableEntity
}

// readJSON decodes a request body, answering the error itself.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := (jsonhttp.Body{Limit: maxBody}).Decode(w, r, dst); err != nil {
		jsonhttp.WriteError(w, jsonhttp.StatusOf(err), err.Error())
		return false
	}
	return true
}
