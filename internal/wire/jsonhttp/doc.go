// Package jsonhttp is the HTTP half of kanaria's wire format, shared by its
// three JSON APIs: the control plane's (internal/server), the data plane's
// unix-socket API (internal/dataplane) and the router's admin API
// (internal/router). It holds the one error body, the one way to write a JSON
// answer and to read a JSON request body, and the one bearer-token check.
//
// It imports only the standard library, so that the router, which depends on
// no other kanaria package, can use it too. The control plane's request and
// response types are in the parent package, internal/wire.
package jsonhttp
