package jsonhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Body says how a handler reads a request's JSON body.
type Body struct {
	// Limit is the most bytes a body may have; a larger one is answered
	// 413. It must be positive.
	Limit int64
	// Optional accepts an empty body (only white space) and leaves the
	// destination as it is: the path alone says what to do.
	Optional bool
	// JSONOnly refuses (415) a non-empty body whose Content-Type is set
	// and is not application/json. Off where people send bodies with
	// `curl -d`, which labels them as a form.
	JSONOnly bool
}

// BodyError is a request body that cannot be used: the status to answer with
// and what was wrong, worded for the caller.
type BodyError struct {
	Status int
	Err    error
}

func (e *BodyError) Error() string { return e.Err.Error() }

// Unwrap gives the cause, e.g. a *json.UnmarshalTypeError naming a field.
func (e *BodyError) Unwrap() error { return e.Err }

// Decode reads one JSON value from r's body into dst. Unknown fields are
// refused (a misspelt "revison" must not be silently ignored), and so is
// anything after the value. A failure is a *BodyError.
func (b Body) Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.Limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &BodyError{http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooBig.Limit)}
		}
		return &BodyError{http.StatusBadRequest, fmt.Errorf("could not read the body: %w", err)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if b.Optional {
			return nil
		}
		return &BodyError{http.StatusBadRequest, errors.New("bad JSON body: the body is empty")}
	}
	if ct := r.Header.Get("Content-Type"); b.JSONOnly && ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &BodyError{http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: want application/json", ct)}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("not valid JSON (%w)", err)
		}
		return &BodyError{http.StatusBadRequest, fmt.Errorf("bad JSON body: %w", err)}
	}
	if dec.More() {
		return &BodyError{http.StatusBadRequest, errors.New("bad JSON body: more than one value")}
	}
	return nil
}

// StatusOf is the status to answer a Decode error with.
func StatusOf(err error) int {
	var be *BodyError
	if errors.As(err, &be) {
		return be.Status
	}
	return http.StatusBadRequest
}
