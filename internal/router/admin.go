package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// MaxAdminBodyBytes bounds an admin request body. A whole routing table of
// thousands of releases fits; a runaway client does not exhaust memory.
const MaxAdminBodyBytes = 4 << 20

// NewAdminHandler serves the router's admin API:
//
//	GET  /healthz                      no auth; "ok"
//	GET  /v1/config                    the table in force (JSON Config)
//	PUT  /v1/config                    replace the table (validated whole; 400 changes nothing)
//	GET  /v1/releases/{name}/weights   {"canaryWeight":pct,"baselineWeight":pct,"canaryPPM":n,"baselinePPM":n}
//	PUT  /v1/releases/{name}/weights   {"canaryWeight":pct,"baselineWeight":pct} or ...PPM
//	GET  /v1/releases/{name}/mirror    the comparison of mirrored answers (shadow.Report)
//	GET  /v1/releases/{name}/samples?version=canary&since=UNIXNANO
//	                                   SamplesView: the samples kept of one version that
//	                                   finished at or after since, for an analysis that
//	                                   merges those of every router replica
//
// Every route but /healthz needs "Authorization: Bearer <token>". An empty
// token refuses every request, so a mistake cannot open the API.
func NewAdminHandler(r *Router, token string) http.Handler {
	a := &admin{r: r, token: jsonhttp.NewToken(token)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/config", a.getConfig)
	mux.HandleFunc("PUT /v1/config", a.putConfig)
	mux.HandleFunc("GET /v1/releases/{name}/weights", a.getWeights)
	mux.HandleFunc("PUT /v1/releases/{name}/weights", a.putWeights)
	mux.HandleFunc("GET /v1/releases/{name}/mirror", a.getMirror)
	mux.HandleFunc("GET /v1/releases/{name}/samples", a.getSamples)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "ok\n")
			return
		}
		if !a.token.Authorized(req) {
			jsonhttp.WriteUnauthorized(w, "kanaria-router", "missing or wrong bearer token")
			return
		}
		mux.ServeHTTP(w, req)
	})
}

type admin struct {
	r     *Router
	token jsonhttp.Token
	// mu makes a weights read-modify-write (a PUT naming only one of the
	// two weights) atomic with respect to other admin writes.
	mu sync.Mutex
}

func (a *admin) getConfig(w http.ResponseWriter, _ *http.Request) {
	jsonhttp.WriteJSON(w, http.StatusOK, a.r.Config())
}

func (a *admin) putConfig(w http.ResponseWriter, req *http.Request) {
	var cfg Config
	if !readJSON(w, req, &cfg) {
		return
	}
	if err := cfg.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "the routing table is invalid; nothing changed", err)
		return
	}
	a.mu.Lock()
	err := a.r.Update(cfg)
	a.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, "the routing table was refused; nothing changed", err)
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, a.r.Config())
}

// weightsBody is both the GET answer and the PUT request. Pointers tell an
// absent field (keep the current weight) from an explicit 0.
type weightsBody struct {
	CanaryWeight   *float64 `json:"canaryWeight,omitempty"`
	BaselineWeight *float64 `json:"baselineWeight,omitempty"`
	CanaryPPM      *int64   `json:"canaryPPM,omitempty"`
	BaselinePPM    *int64   `json:"baselinePPM,omitempty"`
}

// weightsView is the GET answer: every field always present.
type weightsView struct {
	Release        string          `json:"release"`
	CanaryWeight   v1alpha1.Weight `json:"canaryWeight"`
	BaselineWeight v1alpha1.Weight `json:"baselineWeight"`
	// The same weights as integers of ppm (a Weight alone writes a percentage).
	CanaryPPM   uint32 `json:"canaryPPM"`
	BaselinePPM uint32 `json:"baselinePPM"`
}

func viewOf(name string, w v1alpha1.Weights) weightsView {
	return weightsView{Release: name, CanaryWeight: w.CanaryPPM, BaselineWeight: w.BaselinePPM,
		CanaryPPM: uint32(w.CanaryPPM), BaselinePPM: uint32(w.BaselinePPM)}
}

func (a *admin) getWeights(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	cur, ok := a.r.Weights(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no release named %q", name), nil)
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, viewOf(name, cur))
}

func (a *admin) getMirror(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	rep, ok := a.r.MirrorReport(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("release %q has not mirrored anything", name), nil)
		return
	}
	jsonhttp.WriteJSON(w, http.StatusOK, rep)
}

func (a *admin) putWeights(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, ok := a.r.Weights(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no release named %q", name), nil)
		return
	}
	var body weightsBody
	if !readJSON(w, req, &body) {
		return
	}
	var v validator
	c := weightFrom(&v, "canary", body.CanaryWeight, body.CanaryPPM, cur.CanaryPPM)
	b := weightFrom(&v, "baseline", body.BaselineWeight, body.BaselinePPM, cur.BaselinePPM)
	if len(v.errs) == 0 && uint64(c)+uint64(b) > PPMScale {
		v.add("canaryWeight + baselineWeight", fmt.Sprintf("%s + %s is above 100%%", c, b))
	}
	if len(v.errs) == 0 {
		rel := a.release(name)
		if c > 0 && (rel == nil || rel.Canary == nil) {
			v.add("canaryWeight", fmt.Sprintf("release %q has no canary backend", name))
		}
		if b > 0 && (rel == nil || rel.Baseline == nil) {
			v.add("baselineWeight", fmt.Sprintf("release %q has no baseline backend", name))
		}
	}
	if len(v.errs) > 0 {
		writeError(w, http.StatusBadRequest, "weights refused; nothing changed", v.errs)
		return
	}
	if err := a.r.SetWeights(name, v1alpha1.Weights{CanaryPPM: c, BaselinePPM: b}); err != nil {
		writeError(w, http.StatusBadRequest, "weights refused; nothing changed", err)
		return
	}
	now, _ := a.r.Weights(name)
	jsonhttp.WriteJSON(w, http.StatusOK, viewOf(name, now))
}

// SamplesView is the answer of GET /v1/releases/{name}/samples: the
// samples of one version, oldest first, all of Revision (the one in the
// table; "" when the release has no such version). The ring keeps the latest
// DefaultSampleRing of each version, so a reader polls with since = the
// newest UnixNano it has, more often than the ring turns over.
type SamplesView struct {
	Release  string   `json:"release"`
	Version  Version  `json:"version"`
	Revision string   `json:"revision"`
	Samples  []Sample `json:"samples"`
}

func (a *admin) getSamples(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	q := req.URL.Query()
	v := Version(q.Get("version"))
	if v != Stable && v != Canary && v != Baseline {
		writeError(w, http.StatusBadRequest, "version: want stable, canary or baseline", nil)
		return
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		ns, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want Unix nanoseconds", nil)
			return
		}
		since = time.Unix(0, ns)
	}
	rev, ss := a.r.Telemetry().RevisionSamples(name, v, since)
	if ss == nil {
		ss = []Sample{}
	}
	jsonhttp.WriteJSON(w, http.StatusOK, SamplesView{Release: name, Version: v, Revision: rev, Samples: ss})
}

// release finds a release's configuration, to see which backends it has.
func (a *admin) release(name string) *Release {
	cfg := a.r.Config()
	for i := range cfg.Releases {
		if cfg.Releases[i].Name == name {
			return &cfg.Releases[i]
		}
	}
	return nil
}

// weightFrom resolves one version's new weight from a percentage or a ppm
// count (not both), keeping the current weight when neither is given.
func weightFrom(v *validator, version string, pct *float64, ppm *int64, cur v1alpha1.Weight) v1alpha1.Weight {
	field := version + "Weight"
	switch {
	case pct != nil && ppm != nil:
		v.add(field, fmt.Sprintf("give %sWeight or %sPPM, not both", version, version))
	case pct != nil:
		n, err := v1alpha1.WeightFromPercent(*pct)
		if err == nil {
			err = n.Validate()
		}
		if err != nil {
			v.add(field, err.Error())
			return 0
		}
		return n
	case ppm != nil:
		field = version + "PPM"
		switch {
		case *ppm < 0:
			v.add(field, fmt.Sprintf("%d is below 0", *ppm))
		case *ppm > PPMScale:
			v.add(field, fmt.Sprintf("%d is above %d (100%%)", *ppm, PPMScale))
		default:
			return v1alpha1.Weight(*ppm)
		}
	default:
		return cur
	}
	return 0
}

// readJSON decodes one JSON value, refusing unknown fields, trailing data
// and bodies over MaxAdminBodyBytes. It writes the error response itself.
func readJSON(w http.ResponseWriter, req *http.Request, dst any) bool {
	err := jsonhttp.Body{Limit: MaxAdminBodyBytes}.Decode(w, req, dst)
	if err == nil {
		return true
	}
	// A value of the wrong type is one field's problem, named in the
	// routes file's style.
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		writeError(w, http.StatusBadRequest, "bad JSON body", ValidationError{{Path: te.Field, Msg: fmt.Sprintf("expected %s, got a JSON %s", kindName(te.Type), te.Value)}})
		return false
	}
	writeError(w, jsonhttp.StatusOf(err), err.Error(), nil)
	return false
}

// writeError answers with the one error body of kanaria's APIs: msg, and
// for a routing table or weights refused field by field, each field's
// problem (jsonhttp.Problem) so a client can show it next to the right
// input.
func writeError(w http.ResponseWriter, status int, msg string, err error) {
	body := jsonhttp.Error{Error: msg}
	var ve ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve {
			body.Problems = append(body.Problems, jsonhttp.Problem{Path: fe.Path, Message: fe.Msg})
		}
		body.Error = msg + ": " + ve.Error()
	case err != nil:
		body.Problems = []jsonhttp.Problem{{Message: err.Error()}}
		body.Error = msg + ": " + err.Error()
	}
	jsonhttp.WriteJSON(w, status, body)
}
