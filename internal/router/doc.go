// Package router is kanaria's data plane: a reverse proxy that sends each
// request to the stable, canary or baseline version of a release by a sticky,
// weighted assignment, stamps the serving revision on the request and the
// response, and records per-version telemetry.
//
// The data plane process (internal/dataplane) and `kanaria router`
// (internal/cli, with the admin API) run it; the control plane uses its
// types and reaches it through the data plane's socket. What they call:
//
//	func New(cfg Config) (*Router, error)        // validates cfg (Config.Validate)
//	func Serve(ctx, ln, h, cfg) error            // serves h (a *Router or the admin API) on ln until ctx ends
//	func (r *Router) ServeHTTP(w, req)            // the proxy as an http.Handler (the net/http front end)
//	func (r *Router) Update(cfg Config) error     // validate, then one atomic table swap
//	func (r *Router) SetWeights(release string, w v1alpha1.Weights) error
//	func (r *Router) Weights(release string) (w v1alpha1.Weights, ok bool)
//	func (r *Router) Config() Config              // the table in force, as a Config
//	func (r *Router) Telemetry() *Telemetry       // per-version counters, histograms, samples
//	func (r *Router) Close() error                // stops health checks, closes idle upstream connections
//	func LoadFile(path string) (Config, error)    // YAML with file:line:col and field path on error
//	func NewAdminHandler(r *Router, token string) http.Handler
//
// Assignment: bucket = xxhash64(salt + "\x00" + key) mod PPMScale. The canary
// owns [0, canaryPPM), the baseline owns [PPMScale-baselinePPM, PPMScale).
// Raising a weight only grows a range, so a user who has seen the canary keeps
// seeing it, on every router replica, with no shared state.
//
// # Front ends
//
// Serve has three HTTP front ends (Config.HTTPServer). Two belong to
// kanaria's own HTTP/1.1 server, h1Server: the epoll event loop (loop_*.go,
// Linux, the default), which serves the common keep-alive request itself,
// and the goroutine path (conn_*.go), a goroutine per connection for
// everything the loop hands over (and for every connection with
// "goroutines", and every HTTP/1.1 connection of a TLS listener, over
// crypto/tls: tls.go). The third is net/http with httputil.ReverseProxy
// (stdlib_*.go), for the admin API and "stdlib". HTTP/2 (a TLS listener's
// connections that negotiate h2) is net/http's HTTP/2 server with
// h2Handler, which proxies over the goroutine path's upstream pool. All three frame HTTP/1.1 with
// internal/h1: one head scanner, one parser, one framing policy with one
// set of refusal reasons, one chunked decoder. Every proxying test runs on
// all three, and over TLS in HTTP/1.1 and HTTP/2.
//
// # Files
//
// Shared by every front end:
//
//	router.go          Router: New, Update, SetWeights, Weights, Config, Close
//	config.go          the routes file's types; validate.go, validate_rules.go, duration.go, load.go read and check it
//	table.go           the compiled table (routes, releases, backends, endpoints) one atomic store replaces
//	assign.go          the routing decision: key, bucket, override, version; allocation-free
//	failure.go         endpoint health (passive ejection, active checks), error statuses, what may be retried
//	telemetry.go       per-version counters, latency histograms and samples; telemetry_prom.go exports them
//	admin.go           the admin API (weights, the whole table, the mirror's report)
//	mirror.go          shadow traffic: which requests are copied, the capture each front end fills as it relays stable's answer
//	mirror_send.go     the mirrorer: bounded queue, workers, counters, the report; mirror_h1.go its HTTP/1.1 client; mirror_http.go net/http's capture
//	shadow/            comparing the answers (Diffy-style), pure
//	serve.go           Serve, which picks the front end; h1Server, the listener both own front ends share
//	request.go         admitting and routing one request (admit, pickEndpoint), for the loop and the goroutine path
//	heads.go           the heads they write: the request upstream, the answer to the client, error answers
//	internal/h1        HTTP/1.1 framing: FindHead, ReadHead, Head, RequestBody/ResponseBody, Chunked
//
// The event loop:
//
//	loop.go            the loops: epoll set, poll (spin, then wait), deadlines swept, drain
//	loop_sock.go       a socket's buffers, one read (fill) and the writes (flush)
//	loop_accept.go     accepting on the loop's own duplicate of the listener
//	loop_client.go     a client connection: its head, admission, hand-off to the goroutine path
//	loop_upstream.go   upstream connections: per-loop pools, non-blocking dial, sending the request
//	loop_answer.go     reading and relaying the answer, failover, hand-off in mid-request
//	loop_body.go       relaying an answer's body (Content-Length or re-encoded chunked)
//	loop_sys.go        raw system calls on non-blocking sockets; loop_other.go: no loop without epoll
//
// The goroutine path:
//
//	conn.go            a client connection's request loop and gentle close
//	conn_proxy.go      sending a request upstream (with its body), failover
//	conn_relay.go      relaying the answer: 1xx, framing, tunnels after 101
//	conn_body.go       copying bodies between bufio buffers, flushing only before a read may block
//	conn_pool.go       keep-alive upstream connections per endpoint, dialling (TLS too)
//	conn_idle.go       an idle connection waiting without a read buffer
//	conn_deadline.go   read deadlines re-armed once per slack period, not per request
//	tls.go             TLS listeners: the certificate (reloaded by Update), ALPN, h2 handed to net/http
//	h2_proxy.go        HTTP/2 streams proxied over the upstream pool in HTTP/1.1 (h2Handler)
//
// net/http:
//
//	stdlib.go          the http.Server and its drain
//	stdlib_proxy.go    Router.ServeHTTP on httputil.ReverseProxy, the failover transport
//	stdlib_guard.go    the smuggling guard on each connection: heads judged before Go reads them
//	stdlib_tls.go      "stdlib" with TLS: terminated before the guard; HTTP/2 to the standard library
//
// # One request, accept to response
//
// On the default front end, a keep-alive GET:
//
//  1. Accept. A loop accepts on its duplicate of the listening socket
//     (acceptAll), or the accept goroutine (h1Server.accept) takes the
//     connection and moves it into a loop (evLoop.adopt). The socket is
//     registered in the loop's epoll set once, edge-triggered (register).
//  2. The head. When epoll says the socket is readable, evClient.ready
//     calls readRequest: one read into the socket's buffer (fill), and
//     h1.FindHead looks for the end of the header block there.
//  3. Admission. startRequest parses the head in place (h1.Head.Parse, no
//     copy) and admit checks it: the request line, the framing policy
//     (h1.Head.RequestBody: smuggling shapes are refused with a 400), one
//     Host. fillInputs and table.decide pick the release and version by
//     key and weights. What the loop does not serve itself (a refusal, a
//     body that did not come whole with the head, Expect, an upgrade, a
//     TLS or named upstream) is handed off here: see below.
//  4. Upstream. pickEndpoint chooses an instance (skipping ejected ones),
//     sendUpstream takes a pooled connection or dials one without
//     blocking, and writeUpstreamHead formats the request's head into the
//     socket's output with the version stamp and X-Forwarded-*; one write
//     sends it (flush).
//  5. The answer. When the upstream is readable, readResponse finds its
//     head (h1.FindHead), startAnswer parses it and asks h1 how its body is
//     framed (h1.StatusCode, h1.Head.ResponseBody), and writeResponseHead
//     writes the client's head: the upstream's fields, the version stamp,
//     the sticky cookie on a first visit, framing. relayBody moves the body
//     as it comes (a chunked one followed by h1.Chunked and re-encoded),
//     with at most 64 KiB waiting for a slow client.
//  6. The end. finishAnswer records the request (versionStats.record),
//     puts the upstream connection back in the loop's pool and the client
//     connection back to idle, or starts its next pipelined request. A
//     failed attempt goes through upstreamFailed instead: a stale pooled
//     connection is retried, a failed canary fails over to stable when the
//     method allows, else 502 or 504 (upstreamUnavailable).
//
// A hand-off gives the client's socket, with the bytes read so far, to
// h1Server.serveConn as a net.Conn (in mid-request, with the upstream
// connection and the answer's first bytes too). There conn.serve reads
// heads with h1.ReadHead, admits with the same admit, and conn_proxy.go and
// conn_relay.go take the same steps with blocking reads and bufio buffers;
// the connection stays on the goroutine path. On net/http, guardConn holds
// each head back until h1's policy has judged it and follows the body
// (h1.Chunked) to where the next head begins; then http.Server reads the
// request and Router.ServeHTTP decides with the same table.decide and
// proxies through httputil.ReverseProxy.
package router
