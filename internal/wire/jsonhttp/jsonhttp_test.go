package jsonhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokenMatchesOnlyItself(t *testing.T) {
	tok := NewToken("s3cret-token")
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"Bearer s3cret-token", true},
		{"bearer s3cret-token", true},   // the scheme is case-insensitive
		{"Bearer  s3cret-token ", true}, // surrounding space is not the token's
		{"Bearer s3cret-tokenx", false},
		{"Bearer s3cret", false},
		{"Basic s3cret-token", false},
		{"s3cret-token", false},
		{"Bearer ", false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := tok.Authorized(r); got != tc.want {
			t.Errorf("Authorization %q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestEmptyTokenMatchesNothing(t *testing.T) {
	for _, tok := range []Token{NewToken(""), {}} {
		if tok.Set() || tok.Matches("") || tok.Matches("x") {
			t.Fatalf("an empty token matched: %+v", tok)
		}
	}
}

func TestWriteErrorShape(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusConflict, "rollout web: already paused")
	if rec.Code != 409 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	// Exactly {"error": "..."}: no problems key when there are none.
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || len(m) != 1 || m["error"] != "rollout web: already paused" {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
}

func TestOnlyAnswersOtherMethodsWithJSON405(t *testing.T) {
	h := Only(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, http.MethodGet, http.MethodHead)
	for method, want := range map[string]int{"GET": 204, "HEAD": 204, "POST": 405, "DELETE": 405} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(method, "/v1/x", nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", method, rec.Code, want)
		}
		if want == 405 && (rec.Header().Get("Allow") != "GET" || !strings.Contains(rec.Body.String(), `"/v1/x needs GET"`)) {
			t.Errorf("%s: Allow %q, body %s", method, rec.Header().Get("Allow"), rec.Body)
		}
	}
}

func TestDecode(t *testing.T) {
	type dst struct {
		Revision string `json:"revision"`
		Full     bool   `json:"full"`
	}
	for _, tc := range []struct {
		name        string
		body        Body
		contentType string
		in          string
		status      int // 0: decoded
		want        string
	}{
		{"value", Body{Limit: 100}, "", `{"revision":"v2"}`, 0, ""},
		{"optional empty", Body{Limit: 100, Optional: true}, "", "  \n", 0, ""},
		{"required empty", Body{Limit: 100}, "", "", 400, "empty"},
		{"too large", Body{Limit: 10}, "", `{"revision":"v2"}`, 413, "larger than 10 bytes"},
		{"unknown field", Body{Limit: 100}, "", `{"revison":"v2"}`, 400, `unknown field "revison"`},
		{"syntax", Body{Limit: 100}, "", `{"revision":`, 400, "not valid JSON"},
		{"two values", Body{Limit: 100}, "", `{} {}`, 400, "more than one value"},
		{"form type refused", Body{Limit: 100, JSONOnly: true}, "application/x-www-form-urlencoded", `{}`, 415, "want application/json"},
		{"form type allowed", Body{Limit: 100}, "application/x-www-form-urlencoded", `{}`, 0, ""},
		{"form type, empty body", Body{Limit: 100, Optional: true, JSONOnly: true}, "application/x-www-form-urlencoded", ``, 0, ""},
		{"json with charset", Body{Limit: 100, JSONOnly: true}, "application/json; charset=utf-8", `{}`, 0, ""},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		var d dst
		err := tc.body.Decode(httptest.NewRecorder(), r, &d)
		var be *BodyError
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.status == 0:
		case !errors.As(err, &be) || be.Status != tc.status || StatusOf(err) != tc.status || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want %d containing %q", tc.name, err, tc.status, tc.want)
		}
	}
}

func TestDecodeKeepsTheFieldOfATypeError(t *testing.T) {
	var d struct {
		Weight float64 `json:"canaryWeight"`
	}
	r := httptest.NewRequest("PUT", "/", strings.NewReader(`{"canaryWeight":"ten"}`))
	err := Body{Limit: 100}.Decode(httptest.NewRecorder(), r, &d)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "canaryWeight" {
		t.Fatalf("%v: no field", err)
	}
}
