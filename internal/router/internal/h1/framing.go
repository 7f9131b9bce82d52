package h1

import "bytes"

// Body says how a message's body is delimited (RFC 9112 6).
type Body uint8

// The ways a body is delimited.
const (
	BodyNone       Body = iota // no body
	BodyLength                 // Head.Length bytes (possibly 0)
	BodyChunked                // chunked (see Chunked)
	BodyUntilClose             // a response's body that ends with the connection
)

// Why a request's framing is refused. A front proxy that repairs an
// ambiguous request (keeps one of two lengths, drops a Content-Length in
// favour of Transfer-Encoding) may read a different message than the
// server behind it, the gap request smuggling goes through; so these
// shapes are answered 400 and the connection closed. The reasons contain
// no spaces: the net/http guard puts one in a request line.
const (
	RefuseObsFold          = "obs-fold-header-continuation"          // a continuation line (RFC 9112 5.2)
	RefuseLengthAndChunked = "content-length-with-transfer-encoding" // both framings at once (RFC 9112 6.3)
	RefuseDuplicateLength  = "duplicate-content-length"              // more than one length, equal or not, or a list
	RefuseInvalidLength    = "invalid-content-length"                // not a plain decimal number
	RefuseCoding           = "unsupported-transfer-encoding"         // anything but one lone "chunked"
	RefuseCodingBefore11   = "transfer-encoding-before-http-1.1"     // faulty framing (RFC 9112 6.1)
)

// RequestBody is the framing policy for a request head, the one every
// front end applies: how the body is delimited, or, when the framing is
// ambiguous, the reason to refuse the request ("" otherwise).
//
// net/http refuses differing lengths and other codings itself but repairs
// Content-Length with chunked and repeated equal lengths, accepts obs-fold,
// and ignores Transfer-Encoding in an HTTP/1.0 request (reading the chunks
// as the next request); these are refused here all the same.
func (h *Head) RequestBody() (Body, string) {
	switch {
	case h.ObsFold:
		return BodyNone, RefuseObsFold
	case h.Codings > 0 && h.before11():
		return BodyNone, RefuseCodingBefore11
	case h.Lengths > 0 && h.Codings > 0:
		return BodyNone, RefuseLengthAndChunked
	case h.Lengths > 1 || h.lengthList:
		return BodyNone, RefuseDuplicateLength
	case h.lengthBad:
		return BodyNone, RefuseInvalidLength
	case h.Codings > 1 || h.Codings == 1 && !h.Chunked:
		return BodyNone, RefuseCoding
	case h.Chunked:
		return BodyChunked, ""
	case h.Lengths == 1:
		return BodyLength, ""
	}
	return BodyNone, ""
}

// ResponseBody says how the body of a final response (status code ≥ 200)
// is delimited; toHEAD: it answers a HEAD request. false means the
// framing is broken and the response must not be relayed. Responses are
// judged as RFC 9112 6.3 says a client judges them: Transfer-Encoding wins
// over Content-Length, and repeated lengths are accepted when they agree.
func (h *Head) ResponseBody(code int, toHEAD bool) (Body, bool) {
	switch {
	case toHEAD || code == 204 || code == 304:
		return BodyNone, true
	case h.Codings > 0:
		return BodyChunked, h.Chunked
	case h.Lengths > 0:
		return BodyLength, !h.lengthBad && h.sameLengths()
	}
	return BodyUntilClose, true
}

// before11 reports whether h is a request below HTTP/1.1.
func (h *Head) before11() bool {
	_, _, proto, ok := RequestLine(h.Bytes(h.First))
	return ok && before11(proto)
}

// sameLengths reports whether every Content-Length field says Length.
func (h *Head) sameLengths() bool {
	for i := range h.Fields {
		if EqualFold(h.Bytes(h.Fields[i].Name), "Content-Length") && parseLength(h.Bytes(h.Fields[i].Value)) != h.Length {
			return false
		}
	}
	return true
}

// Persistent reports whether the connection a response came on may carry
// another exchange once its body (delimited as body) is read (RFC 9112
// 9.3): not after "Connection: close" or a body that ends with the
// connection, and after an HTTP/1.0 response only with keep-alive.
func (h *Head) Persistent(body Body) bool {
	http10 := bytes.HasPrefix(h.Bytes(h.First), []byte("HTTP/1.0"))
	return !h.Close && body != BodyUntilClose && (!http10 || h.KeepAlive)
}

// RequestLine splits "METHOD target HTTP/1.1": single spaces, a token for
// a method, a target without control characters (it is passed on as it
// came), no space in the version.
func RequestLine(l []byte) (method, target, proto []byte, ok bool) {
	i := bytes.IndexByte(l, ' ')
	if i <= 0 {
		return nil, nil, nil, false
	}
	j := bytes.IndexByte(l[i+1:], ' ')
	if j <= 0 {
		return nil, nil, nil, false
	}
	method, target, proto = l[:i], l[i+1:i+1+j], l[i+2+j:]
	if !IsToken(method) || bytes.IndexByte(proto, ' ') >= 0 || !validText(target) || bytes.IndexByte(target, '\t') >= 0 {
		return nil, nil, nil, false
	}
	return method, target, proto, true
}

// before11 reports whether a request line's version is below HTTP/1.1
// ("HTTP/1.0", "HTTP/0.9": the versions net/http reads as such).
func before11(proto []byte) bool {
	return len(proto) == 8 && bytes.HasPrefix(proto, []byte("HTTP/")) && proto[6] == '.' &&
		'0' <= proto[5] && proto[5] <= '1' && '0' <= proto[7] && proto[7] <= '9' &&
		(proto[5] == '0' || proto[7] == '0')
}

// StatusCode reads the code of a status line, "HTTP/1.1 200 OK". The
// reason phrase, which a proxy passes on, may hold no control character
// but tab.
func StatusCode(l []byte) (int, bool) {
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' {
		return 0, false
	}
	c := l[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0, false
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0'), len(l) == 12 || l[12] == ' ' && validText(l[13:])
}

// HasLength reports whether the head has Content-Length fields and all of
// them are plain numbers (Length is then the last one's): a bodyless
// answer to HEAD, or a 304, may pass its length on.
func (h *Head) HasLength() bool { return h.Lengths > 0 && !h.lengthBad }
