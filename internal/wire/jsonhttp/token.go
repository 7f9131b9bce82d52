package jsonhttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is an API's bearer token, kept only as its SHA-256 digest. Presented
// tokens are hashed too and the digests compared in constant time, so that
// neither the token's content nor its length leaks through response timing
// (subtle.ConstantTimeCompare returns early when lengths differ). The zero
// Token, like one made from "", matches nothing: a mistake cannot open an
// API.
type Token struct {
	digest [sha256.Size]byte
	set    bool
}

// NewToken returns the check for token.
func NewToken(token string) Token {
	if token == "" {
		return Token{}
	}
	return Token{digest: sha256.Sum256([]byte(token)), set: true}
}

// Set reports whether t was made from a non-empty token.
func (t Token) Set() bool { return t.set }

// Matches reports whether presented is the token.
func (t Token) Matches(presented string) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], t.digest[:]) == 1 && t.set
}

// Authorized reports whether r carries "Authorization: Bearer <the token>".
func (t Token) Authorized(r *http.Request) bool {
	tok, ok := Bearer(r)
	return ok && t.Matches(tok)
}

// Bearer extracts the token of an "Authorization: Bearer TOKEN" header (the
// scheme in any case); ok is false when there is none.
func Bearer(r *http.Request) (token string, ok bool) {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// WriteUnauthorized answers 401 with a WWW-Authenticate challenge for realm
// and {"error": msg}.
func WriteUnauthorized(w http.ResponseWriter, realm, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	WriteError(w, http.StatusUnauthorized, msg)
}
