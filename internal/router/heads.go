package router

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"unsafe"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// writeUpstreamHead writes the head of the request in h as it goes
// upstream: the client's fields minus hop-by-hop and router-owned ones,
// X-Forwarded-* with remoteIP, the version stamp and framing.
func writeUpstreamHead(bw *bufio.Writer, h *h1.Head, r *request, remoteIP string) {
	t := r.t
	bw.Write(r.method)
	bw.WriteByte(' ')
	if p := r.ep.url.Path; p != "" && p != "/" && len(r.target) > 0 && r.target[0] == '/' {
		bw.WriteString(strings.TrimSuffix(p, "/"))
	}
	bw.Write(originForm(r.target))
	bw.WriteString(" HTTP/1.1\r\n")
	var host []byte
	nXFF := 0
	for i := range h.Fields {
		f := &h.Fields[i]
		if f.Hop {
			continue
		}
		name := h.Bytes(f.Name)
		switch {
		case h1.EqualFold(name, "Host"):
			host = h.Bytes(f.Value)
		case h1.EqualFold(name, "X-Forwarded-For"):
			nXFF++
			continue // re-written below with the client appended
		case h1.EqualFold(name, "X-Forwarded-Host"), h1.EqualFold(name, "X-Forwarded-Proto"),
			h1.EqualFold(name, t.upstreamVersionHeader), h1.EqualFold(name, t.ovr.secretHeader), h1.EqualFold(name, "Expect"):
			continue
		}
		bw.Write(name)
		bw.WriteString(": ")
		bw.Write(h.Bytes(f.Value))
		bw.WriteString("\r\n")
	}
	if host == nil {
		writeFieldString(bw, "Host", r.ep.url.Host)
	}
	bw.WriteString("X-Forwarded-For: ")
	if nXFF > 0 {
		for i := range h.Fields {
			if f := &h.Fields[i]; h1.EqualFold(h.Bytes(f.Name), "X-Forwarded-For") {
				bw.Write(h.Bytes(f.Value))
				bw.WriteString(", ")
			}
		}
	}
	bw.WriteString(remoteIP)
	bw.WriteString("\r\n")
	if host != nil {
		writeField(bw, "X-Forwarded-Host", host)
	}
	if r.tls {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	}
	writeFieldString(bw, t.upstreamVersionHeader, r.backend.revision)
	if r.upgrade {
		bw.WriteString("Connection: Upgrade\r\n")
		writeField(bw, "Upgrade", h.Bytes(h.Fields[h.Upgrade].Value))
	}
	switch {
	case r.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	case h.Lengths == 1:
		writeLength(bw, h.Length)
		bw.WriteString("\r\n")
	default:
		bw.WriteString("\r\n")
	}
}

// originForm turns an absolute-form target into origin form.
func originForm(target []byte) []byte {
	if len(target) > 0 && target[0] == '/' || string(target) == "*" {
		return target
	}
	if i := bytes.Index(target, []byte("://")); i > 0 {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return []byte("/")
	}
	return target
}

// writeResponseHead is writeHead onto any buffered writer (the event loop
// has its own).
func writeResponseHead(bw *bufio.Writer, r *request, resp *h1.Head, code int, kind h1.Body, keep, upgrade bool) {
	t := r.t
	status := resp.Bytes(resp.First)
	if i := bytes.IndexByte(status, ' '); i >= 0 {
		status = status[i+1:]
	}
	bw.WriteString("HTTP/1.1 ")
	bw.Write(status)
	bw.WriteString("\r\n")
	for i := range resp.Fields {
		f := &resp.Fields[i]
		if f.Hop || h1.EqualFold(resp.Bytes(f.Name), t.versionHeader) {
			continue
		}
		bw.Write(resp.Bytes(f.Name))
		bw.WriteString(": ")
		bw.Write(resp.Bytes(f.Value))
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
		bw.WriteString("; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax")
		if r.tls {
			bw.WriteString("; Secure")
		}
		bw.WriteString("\r\n")
	}
	switch {
	case upgrade:
		bw.WriteString("Connection: Upgrade\r\n")
		if resp.Upgrade >= 0 {
			writeField(bw, "Upgrade", resp.Bytes(resp.Fields[resp.Upgrade].Value))
		}
	case kind == h1.BodyLength || kind == h1.BodyNone && resp.HasLength():
		writeLength(bw, resp.Length)
	case kind == h1.BodyChunked && !r.http10:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case kind == h1.BodyNone && code != 204 && code != 304 && !r.head:
		bw.WriteString("Content-Length: 0\r\n")
	}
	if !keep && !upgrade {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// bstr views b as a string without copying. Both front ends of h1Server use it to
// hand header bytes to the routing decision, which reads them and keeps
// nothing; b must not change while the string is in use.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// writeField writes "name: value\r\n".
func writeField(bw *bufio.Writer, name string, val []byte) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.Write(val)
	bw.WriteString("\r\n")
}

func writeFieldString(bw *bufio.Writer, name, val string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(val)
	bw.WriteString("\r\n")
}

func writeLength(bw *bufio.Writer, n int64) {
	bw.WriteString("Content-Length: ")
	writeInt(bw, n, 10)
	bw.WriteString("\r\n")
}

// writeInt formats n into bw's free space (no temporary that could escape).
func writeInt(bw *bufio.Writer, n int64, base int) {
	if bw.Available() < 24 {
		bw.Flush()
	}
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, base))
}

// writeErrorTo is writeError onto any buffered writer; versionHeader is
// the table's response stamp.
func writeErrorTo(bw *bufio.Writer, versionHeader string, code int, reason, msg, revision string, keep bool) {
	bw.WriteString("HTTP/1.1 ")
	writeInt(bw, int64(code), 10)
	bw.WriteString(" ")
	bw.WriteString(reason)
	bw.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	if revision != "" {
		writeFieldString(bw, versionHeader, revision)
	}
	if !keep {
		bw.WriteString("Connection: close\r\n")
	}
	writeLength(bw, int64(len(msg)+1))
	bw.WriteString("\r\n")
	bw.WriteString(msg)
	bw.WriteString("\n")
}
