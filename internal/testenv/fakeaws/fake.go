// Package fakeaws is a FAKE AWS endpoint for tests: no ECS, ELBv2 or
// CloudWatch emulator installs on the machines kanaria is built on, so the
// ECS platform, the elb traffic provider and the cloudwatch metric provider
// are driven through the real aws-sdk-go-v2 clients against this server on
// loopback. It speaks the wire protocols those clients use (ECS: JSON 1.1
// with X-Amz-Target; ELBv2: the query protocol with XML responses;
// CloudWatch: Smithy RPC v2 CBOR) and models only what kanaria relies on:
//
//   - ECS services with a deployment controller type; CreateTaskSet is
//     refused unless it is EXTERNAL, as AWS does.
//   - Task sets: created STABILIZING with fewer running tasks than the
//     scale asks, STEADY_STATE after StablePolls describes; UpdateTaskSet
//     starts over; UpdateServicePrimaryTaskSet makes one PRIMARY and the
//     previous one ACTIVE; the PRIMARY task set cannot be deleted.
//   - Task definitions registered per family with increasing revisions.
//   - ALB listeners and rules with weighted forward actions (weights 0–999,
//     stickiness 1s–7d, at most 5 target groups), target groups that know
//     the load balancers they belong to.
//   - CloudWatch GetMetricData over the AWS/ApplicationELB metrics a test
//     puts per target group and load balancer (Sum, Average, SampleCount,
//     pNN per period).
//   - On demand: throttling of the next n calls of an operation, and
//     eventual consistency (the next n reads of a listener or rule after
//     a write show the actions it had before the write).
//
// Every request must be signed (an AWS4-HMAC-SHA256 Authorization header);
// signatures are not checked.
package fakeaws

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Server is the fake endpoint. Its fields are guarded by mu; tests change
// the world through the methods.
type Server struct {
	// URL is the endpoint to give the clients ("http://127.0.0.1:PORT").
	URL string

	srv *http.Server
	ln  net.Listener

	mu sync.Mutex
	// StablePolls is how many describes of a task set it takes to reach
	// STEADY_STATE after it was created or scaled (default 2).
	stablePolls int
	throttle    map[string]int // operation -> calls left to throttle
	calls       []string       // operations, in order

	account, region string
	services        map[string]*service // by service ARN
	taskDefs        map[string]map[string]any
	families        map[string]int
	nextID          int

	listeners    map[string]*listener
	rules        map[string]*rule
	targetGroups map[string]*targetGroup
	stale        map[string]staleRead
	staleN       map[string]int

	metrics map[metricKey][]point
}

// New starts the fake on 127.0.0.1; Close stops it.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		ln: ln, URL: "http://" + ln.Addr().String(), stablePolls: 2,
		throttle: map[string]int{}, account: "123456789012", region: "us-east-1",
		services: map[string]*service{}, taskDefs: map[string]map[string]any{}, families: map[string]int{},
		listeners: map[string]*listener{}, rules: map[string]*rule{}, targetGroups: map[string]*targetGroup{},
		stale: map[string]staleRead{}, staleN: map[string]int{}, metrics: map[metricKey][]point{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// SetStablePolls sets how many describes a task set needs to become
// STEADY_STATE after a change.
func (s *Server) SetStablePolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stablePolls = n
}

// Throttle makes the next n calls of operation (such as "ModifyListener")
// fail as AWS does when its rate is exceeded.
func (s *Server) Throttle(operation string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle[operation] = n
}

// Calls returns the operations served (throttled ones included), in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// CountCalls is how many times operation was called.
func (s *Server) CountCalls(operation string) int {
	n := 0
	for _, c := range s.Calls() {
		if c == operation {
			n++
		}
	}
	return n
}

// serve dispatches on the protocol each client speaks.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		http.Error(w, "missing signature", http.StatusForbidden)
		return
	}
	switch {
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113."):
		s.serveECS(w, r)
	case strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/"):
		s.serveCloudWatch(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		s.serveELB(w, r)
	default:
		http.Error(w, "fakeaws: unknown protocol", http.StatusBadRequest)
	}
}

// begin records a call and reports whether it is to be throttled.
func (s *Server) begin(op string) (throttled bool) {
	s.calls = append(s.calls, op)
	if s.throttle[op] > 0 {
		s.throttle[op]--
		return true
	}
	return false
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%016x", s.nextID)
}

// apiError is an error answer: its code and message, and the HTTP status.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalid(format string, args ...any) *apiError {
	return &apiError{400, "InvalidParameterException", fmt.Sprintf(format, args...)}
}
