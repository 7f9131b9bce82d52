package jsonhttp

import (
	"encoding/json"
	"net/http"
	"slices"
)

// Error is the body of every error answer of every kanaria API:
// {"error": "..."}, plus, when a request was refused field by field (the
// router's admin API validating a routing table), each field's problem so a
// client can show it next to the right input.
type Error struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one field's error in an Error.
type Problem struct {
	// Path names the field in the request's own field names, e.g.
	// "releases[0].canaryWeight"; empty when the problem is not one field's.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// WriteJSON answers with status and v as one line of JSON. The answers
// describe state that changes every second, so nothing may cache them.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Error{Error: "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError answers with status and {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, Error{Error: msg})
}

// WriteMethodNotAllowed answers a request whose method the path does not
// take with a JSON 405 naming the one it does, where the mux would answer
// in plain text.
func WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, want string) {
	w.Header().Set("Allow", want)
	WriteError(w, http.StatusMethodNotAllowed, r.URL.Path+" needs "+want)
}

// Only serves h for the given methods and answers any other with
// WriteMethodNotAllowed naming the first. A GET route lists HEAD too unless
// a HEAD answer makes no sense (an event stream).
func Only(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			WriteMethodNotAllowed(w, r, methods[0])
			return
		}
		h(w, r)
	}
}
