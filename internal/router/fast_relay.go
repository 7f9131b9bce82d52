package router

import (
	"bufio"
	"bytes"
	"io"
	"time"
)

// Response framing of an upstream answer.
type bodyKind uint8

const (
	bodyNone bodyKind = iota
	bodyFixed
	bodyChunked
	bodyUntilClose
)

// relay writes the upstream response in uc.resp to the client, stamped,
// then its body, records the request and returns uc to the pool when it
// can carry another request. It reports whether the client connection may
// be kept.
func (fc *fastConn) relay(r *fastReq, uc *upConn, keep bool) bool {
	resp := &uc.resp
	code, ok := statusCode(resp.str(resp.first))
	for ok && code >= 100 && code < 200 && code != 101 {
		// Interim answers (103 Early Hints, an unasked 100) pass through.
		if !r.http10 {
			fc.writeHead(r, resp, code, bodyNone, true, false)
			if fc.bw.Flush() != nil {
				uc.c.Close()
				return false
			}
		}
		if err := readHead(uc.br, resp, 1<<20); err != nil {
			uc.c.Close()
			return fc.badGateway(r, keep)
		}
		code, ok = statusCode(resp.str(resp.first))
	}
	if !ok || code == 101 && !r.upgrade {
		uc.c.Close()
		return fc.badGateway(r, keep)
	}
	if code == 101 {
		fc.writeHead(r, resp, code, bodyNone, true, true)
		fc.tunnel(uc)
		now := time.Now()
		r.backend.stats.record(now, now.Sub(r.start), code)
		return false
	}

	kind, ok := responseBody(r, resp, code)
	if !ok {
		uc.c.Close()
		return fc.badGateway(r, keep)
	}
	reuse := reusable(r, resp, kind)
	if kind == bodyUntilClose || kind == bodyChunked && r.http10 {
		keep = false // the end of the body is the end of the connection
	}
	fc.writeHead(r, resp, code, kind, keep, false)

	if !uc.rdl.at.IsZero() && (kind == bodyChunked || kind == bodyUntilClose || kind == bodyFixed && int64(uc.br.Buffered()) < resp.cl) {
		uc.rdl.set(uc.c, time.Time{}) // the body may stream for as long as it likes
	}
	var err error
	switch kind {
	case bodyFixed:
		err = copyFixed(fc.bw, uc.br, resp.cl)
	case bodyChunked:
		err = copyChunked(fc.bw, uc.br, !r.http10)
	case bodyUntilClose:
		err = copyUntilEOF(fc.bw, uc.br)
	}
	now := time.Now()
	r.backend.stats.record(now, now.Sub(r.start), code)
	if err != nil {
		// Half a response was sent: the only honest signal left is to
		// close the client connection.
		uc.c.Close()
		return false
	}
	if reuse {
		r.ep.pool.put(uc, now)
	} else {
		uc.c.Close()
	}
	return keep
}

// responseBody says how the body of the final response in resp to r is
// framed; false means the framing is broken (a 502).
func responseBody(r *fastReq, resp *head, code int) (bodyKind, bool) {
	switch {
	case r.head || code == 204 || code == 304:
		return bodyNone, true
	case resp.nTE > 0:
		return bodyChunked, resp.teChunked
	case resp.nCL > 0:
		return bodyFixed, !resp.clBad && sameLengths(resp)
	}
	return bodyUntilClose, true
}

// reusable reports whether the upstream connection that answered r with
// resp may carry another request once the body is read.
func reusable(r *fastReq, resp *head, kind bodyKind) bool {
	http10 := bytes.HasPrefix(resp.str(resp.first), []byte("HTTP/1.0"))
	return !resp.connClose && kind != bodyUntilClose && !r.upgrade && (!http10 || resp.connKeepAlive)
}

// badGateway answers a malformed or missing upstream response.
func (fc *fastConn) badGateway(r *fastReq, keep bool) bool {
	now := time.Now()
	r.backend.stats.record(now, now.Sub(r.start), 502)
	keep = keep && !r.hasBody
	fc.writeError(502, "Bad Gateway", "kanaria: bad response from upstream "+r.backend.revision, r.backend.revision, keep)
	return keep
}

// writeHead writes the response head to the client: the upstream's status
// and end-to-end fields, the version stamp, a sticky cookie on a first
// visit, and framing for how the body will be sent.
func (fc *fastConn) writeHead(r *fastReq, resp *head, code int, kind bodyKind, keep, upgrade bool) {
	writeResponseHead(fc.bw, r, resp, code, kind, keep, upgrade)
}

// writeResponseHead is writeHead onto any buffered writer (the event loop
// has its own).
func writeResponseHead(bw *bufio.Writer, r *fastReq, resp *head, code int, kind bodyKind, keep, upgrade bool) {
	t := r.t
	status := resp.str(resp.first)
	if i := bytes.IndexByte(status, ' '); i >= 0 {
		status = status[i+1:]
	}
	bw.WriteString("HTTP/1.1 ")
	bw.Write(status)
	bw.WriteString("\r\n")
	for i := range resp.fields {
		f := &resp.fields[i]
		if f.hop || eqFold(resp.str(f.name), t.versionHeader) {
			continue
		}
		bw.Write(resp.str(f.name))
		bw.WriteString(": ")
		bw.Write(resp.str(f.val))
		bw.WriteString("\r\n")
	}
	if code >= 100 && code < 200 && !upgrade {
		bw.WriteString("\r\n")
		return
	}
	writeFieldString(bw, t.versionHeader, r.backend.revision)
	if r.issueID { // the same cookie as table.stickyCookie, written in place
		bw.WriteString("Set-Cookie: ")
		bw.WriteString(t.key.stickyName)
		bw.WriteByte('=')
		if bw.Available() < len(r.newID) {
			bw.Flush()
		}
		bw.Write(append(bw.AvailableBuffer(), r.newID[:]...)) // r stays on the stack
		bw.WriteString("; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax\r\n")
	}
	switch {
	case upgrade:
		bw.WriteString("Connection: Upgrade\r\n")
		if resp.upgrade >= 0 {
			writeField(bw, "Upgrade", resp.str(resp.fields[resp.upgrade].val))
		}
	case kind == bodyFixed || kind == bodyNone && resp.nCL > 0 && !resp.clBad:
		writeLength(bw, resp.cl)
	case kind == bodyChunked && !r.http10:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case kind == bodyNone && code != 204 && code != 304 && !r.head:
		bw.WriteString("Content-Length: 0\r\n")
	}
	if !keep && !upgrade {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// sameLengths: repeated Content-Length fields are tolerated in a response
// only when they agree (RFC 9112 6.3).
func sameLengths(h *head) bool {
	for i := range h.fields {
		if eqFold(h.str(h.fields[i].name), "Content-Length") && parseLength(h.str(h.fields[i].val)) != h.cl {
			return false
		}
	}
	return true
}

// statusCode reads the code from "HTTP/1.1 200 OK".
func statusCode(l []byte) (int, bool) {
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' {
		return 0, false
	}
	c := l[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0, false
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0'), len(l) == 12 || l[12] == ' '
}

// tunnel joins client and upstream after a 101 (WebSocket and other
// upgrades). Bytes already buffered on either side go first. When either
// direction ends both connections are closed, as httputil.ReverseProxy
// does: a half-open tunnel would hold the goroutines forever.
func (fc *fastConn) tunnel(uc *upConn) {
	if fc.bw.Flush() != nil {
		uc.c.Close()
		return
	}
	fc.rdl.set(fc.c, time.Time{})
	uc.rdl.set(uc.c, time.Time{})
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(fc.c, uc.br) // bufio.Reader.WriteTo: buffered bytes, then the socket
		done <- struct{}{}
	}()
	go func() {
		io.Copy(uc.c, fc.br)
		done <- struct{}{}
	}()
	<-done
	uc.c.Close()
	fc.c.Close()
	<-done
}
