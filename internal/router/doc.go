// Package router is kanaria's data plane: a reverse proxy that sends each
// request to the stable, canary or baseline version of a release by a sticky,
// weighted assignment, stamps the serving revision on the request and the
// response, and records per-version telemetry.
//
// The exported surface the rest of kanaria relies on (the control plane embeds
// the router as a library; `kanaria router` runs it as a process):
//
//	func New(cfg Config) (*Router, error)        // validates cfg (Config.Validate)
//	func (r *Router) ServeHTTP(w, req)            // the proxy
//	func (r *Router) Update(cfg Config) error     // validate, then one atomic table swap
//	func (r *Router) SetWeights(release string, canaryPPM, baselinePPM uint32) error
//	func (r *Router) Weights(release string) (canaryPPM, baselinePPM uint32, ok bool)
//	func (r *Router) Config() Config              // the table in force, as a Config
//	func (r *Router) Telemetry() *Telemetry       // per-version counters, histograms, samples
//	func (r *Router) Close() error                // stops health checkers
//	func (c Config) Validate() error              // field paths in errors, e.g. releases[0].canaryWeight
//	func LoadFile(path string) (Config, error)    // YAML with file:line:col and field path on error
//	func NewAdminHandler(r *Router, token string) http.Handler
//
// Assignment: bucket = xxhash64(salt + "\x00" + key) mod PPMScale. The canary
// owns [0, canaryPPM), the baseline owns [PPMScale-baselinePPM, PPMScale).
// Raising a weight only grows a range, so a user who has seen the canary keeps
// seeing it, on every router replica, with no shared state.
package router
