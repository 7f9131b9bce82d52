package router

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kanaria-dev/kanaria/internal/router/internal/h1"
)

// h2Handler serves the requests of HTTP/2 connections (h2Front) over the
// goroutine path's upstream side: the same routing (Router.route), the
// endpoint's pool of keep-alive HTTP/1.1 connections (upPool), HTTP/1.1
// framing read with internal/h1 and the same failover. It replaces
// httputil.ReverseProxy and http.Transport there, whose per-connection
// reader and writer goroutines and channel hand-offs cost about 40 % of
// the CPU an HTTP/2 request took (issue 16's profile). The answers are
// those ReverseProxy gave: the same stamps, X-Forwarded-*, error bodies,
// hop-by-hop removal and, for a body cut short upstream, a reset stream.
type h2Handler struct{ r *Router }

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

func (h h2Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	st := h.r.route(w, req)
	if st == nil {
		return
	}
	defer st.recordStatus()
	uc, stop, err := st.sendH1(req)
	if err != nil {
		st.upstreamError(w, err)
		return
	}
	st.relayH1(w, req, uc, stop)
}

// upstreamError is Router.errorHandler's answer: no upstream response came.
func (st *reqState) upstreamError(w http.ResponseWriter, err error) {
	st.shadow.abandon()
	w.Header().Set(st.tbl.versionHeader, st.backend.revision)
	http.Error(w, "kanaria: upstream "+st.backend.revision+" unavailable", errorStatus(err))
}

// sendH1 sends req to the current endpoint over a pooled (or new)
// connection and reads the response head into the connection's resp. A
// reused connection the upstream had closed is replaced without blame; a
// failure is charged to the endpoint and the version and, for a
// retryable request to a version other than stable, the request goes to
// stable instead (failoverTransport's rule). stop must be called before
// the connection is reused: it detaches the client's cancellation, which
// cuts the upstream connection when the stream is reset.
func (st *reqState) sendH1(req *http.Request) (*upConn, func() bool, error) {
	to := &st.tbl.cfg.Timeouts
	// An HTTP/2 request without DATA still has a Body that reads EOF; like
	// ReverseProxy, a declared length of 0 counts as no body.
	hasBody := req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0
	ctx := req.Context()
	bodySent, fresh := false, false
	for {
		var err error
		var uc *upConn
		if !fresh {
			uc = st.endpoint.pool.get(st.start, to.Idle.D())
		}
		if uc == nil {
			uc, err = st.endpoint.dial(to.Dial.D())
		}
		if err == nil {
			c := uc.c
			stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
			bodySent = bodySent || hasBody
			err = st.writeH1(uc, req, hasBody)
			if err == nil {
				sent := st.start
				if hasBody {
					sent = time.Now()
				}
				uc.rdl.atLeast(uc.c, sent, to.ResponseHeader.D())
				err = h1.ReadHead(uc.br, &uc.resp, 1<<20)
			}
			if err == nil {
				return uc, stop, nil
			}
			stop()
			uc.c.Close()
		}
		if ctx.Err() != nil { // the client went away: not the upstream's fault
			st.clientGone = true
			return nil, nil, err
		}
		if _, ok := err.(errClientBody); ok {
			return nil, nil, err
		}
		if uc != nil && uc.reused && !bodySent && staleConn(err) {
			fresh = true // the upstream closed an idle connection: not a failure
			continue
		}
		st.endpoint.failed(&st.release.health)
		st.connFailure(st.backend)
		stable := st.release.backend(Stable)
		if st.backend == stable || bodySent || !retryableMethod(req.Method) {
			return nil, nil, err
		}
		ep := stable.pick()
		if ep == nil {
			ep = stable.any()
		}
		st.point(stable, ep)
		fresh = false
	}
}

// writeH1 writes req upstream as HTTP/1.1: the head (writeH1Head), then
// the body, with Content-Length when the client declared one, else
// chunked.
func (st *reqState) writeH1(uc *upConn, req *http.Request, hasBody bool) error {
	bw := uc.bw
	switch {
	case !hasBody:
		n := int64(-2)
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			n = 0 // as http.Transport does: these methods say their body is empty
		}
		st.writeH1Head(bw, req, n)
	case req.ContentLength > 0:
		st.writeH1Head(bw, req, req.ContentLength)
		n, err := io.CopyN(bw, clientBody{req.Body}, req.ContentLength)
		if err != nil {
			if n < req.ContentLength && err == io.EOF {
				err = errClientBody{io.ErrUnexpectedEOF}
			}
			return err
		}
	default:
		st.writeH1Head(bw, req, -1)
		if err := writeChunked(bw, req.Body); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// clientBody marks errors reading the client's body as errClientBody.
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = errClientBody{err}
	}
	return n, err
}

// writeChunked sends body chunked, each piece as soon as it was read (an
// upload may stream).
func writeChunked(bw *bufio.Writer, body io.Reader) error {
	buf := make([]byte, 16<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			writeInt(bw, int64(n), 16)
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			bw.WriteString("0\r\n\r\n")
			return nil
		}
		if err != nil {
			return errClientBody{err}
		}
	}
}

// writeH1Head writes req's head as it goes upstream, as Router.rewrite
// makes it: the client's fields minus hop-by-hop, Forwarded and
// X-Forwarded-* ones (X-Forwarded-For is re-written with the client
// appended), the router's secret and Expect; Host as the client sent it;
// the version stamp. n is the body's length, -1 chunked, -2 no field.
func (st *reqState) writeH1Head(bw *bufio.Writer, req *http.Request, n int64) {
	t := st.tbl
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	target := req.RequestURI
	if target == "" {
		target = req.URL.RequestURI()
	}
	if p := st.endpoint.url.Path; p != "" && p != "/" && strings.HasPrefix(target, "/") {
		bw.WriteString(strings.TrimSuffix(p, "/"))
	}
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\n")
	writeFieldString(bw, "Host", req.Host)
	for name, vs := range req.Header {
		if hopHeader(name) {
			continue
		}
		switch name {
		case "Host", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Expect", t.ovr.secretHeader:
			continue
		}
		if strings.EqualFold(name, t.upstreamVersionHeader) {
			continue
		}
		for _, v := range vs {
			writeFieldString(bw, name, v)
		}
	}
	bw.WriteString("X-Forwarded-For: ")
	for _, v := range req.Header["X-Forwarded-For"] {
		bw.WriteString(v)
		bw.WriteString(", ")
	}
	ip, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		ip = req.RemoteAddr
	}
	bw.WriteString(ip)
	bw.WriteString("\r\n")
	writeFieldString(bw, "X-Forwarded-Host", req.Host)
	if req.TLS != nil {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	}
	writeFieldString(bw, t.upstreamVersionHeader, st.backend.revision)
	switch {
	case n == -1:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case n >= 0:
		writeLength(bw, n)
	}
	bw.WriteString("\r\n")
}

// relayH1 answers the client with the response whose head is in uc.resp:
// interim answers pass through, then the status and end-to-end fields,
// stamped, then the body; uc goes back to the pool when it can carry
// another request.
func (st *reqState) relayH1(w http.ResponseWriter, req *http.Request, uc *upConn, stop func() bool) {
	resp := &uc.resp
	code, ok := h1.StatusCode(resp.Bytes(resp.First))
	for ok && code >= 100 && code < 200 && code != 101 {
		// As ReverseProxy does: the interim fields go out with it only.
		hdr := w.Header()
		var added []string
		for i := range resp.Fields {
			if f := &resp.Fields[i]; !f.Hop {
				k := http.CanonicalHeaderKey(string(resp.Bytes(f.Name)))
				if _, had := hdr[k]; !had {
					added = append(added, k)
				}
				hdr[k] = append(hdr[k], string(resp.Bytes(f.Value)))
			}
		}
		w.WriteHeader(code)
		for _, k := range added {
			delete(hdr, k)
		}
		if err := h1.ReadHead(uc.br, resp, 1<<20); err != nil {
			st.badUpstream(w, uc, stop)
			return
		}
		code, ok = h1.StatusCode(resp.Bytes(resp.First))
	}
	kind, framed := resp.ResponseBody(code, req.Method == http.MethodHead)
	if !ok || code == 101 || !framed {
		st.badUpstream(w, uc, stop)
		return
	}
	st.shadow.answerH1(code, resp)
	hdr := w.Header()
	for i := range resp.Fields {
		f := &resp.Fields[i]
		if f.Hop || h1.EqualFold(resp.Bytes(f.Name), st.tbl.versionHeader) {
			continue
		}
		k := http.CanonicalHeaderKey(string(resp.Bytes(f.Name)))
		hdr[k] = append(hdr[k], string(resp.Bytes(f.Value)))
	}
	hdr.Set(st.tbl.versionHeader, st.backend.revision)
	if kind == h1.BodyLength || kind == h1.BodyNone && resp.HasLength() {
		hdr["Content-Length"] = []string{strconv.FormatInt(resp.Length, 10)}
	}
	st.status = code
	w.WriteHeader(code)

	if !uc.rdl.at.IsZero() && kind != h1.BodyNone {
		uc.rdl.set(uc.c, time.Time{}) // the body may stream for as long as it likes
	}
	out := getH2Out(w, kind != h1.BodyLength)
	var err error
	switch kind {
	case h1.BodyLength:
		err = copyFixed(out.bw, uc.br, resp.Length, st.shadow)
	case h1.BodyChunked:
		err = copyChunked(out.bw, uc.br, false, st.shadow)
	case h1.BodyUntilClose:
		err = copyUntilEOF(out.bw, uc.br, st.shadow)
	}
	if err == nil {
		err = out.bw.Flush()
	}
	putH2Out(out)
	detached := stop()
	if err != nil {
		// Half an answer was sent: resetting the stream is the only honest
		// signal left (ReverseProxy panics the same way).
		st.shadow.abandon()
		uc.c.Close()
		panic(http.ErrAbortHandler)
	}
	st.shadow.done()
	if detached && resp.Persistent(kind) {
		st.endpoint.pool.put(uc, time.Now())
	} else {
		uc.c.Close()
	}
}

// badUpstream answers a malformed upstream response with 502, recorded
// against the version that gave it (the goroutine path's badGateway).
func (st *reqState) badUpstream(w http.ResponseWriter, uc *upConn, stop func() bool) {
	stop()
	uc.c.Close()
	st.shadow.abandon()
	st.status = http.StatusBadGateway
	w.Header().Set(st.tbl.versionHeader, st.backend.revision)
	http.Error(w, "kanaria: bad response from upstream "+st.backend.revision, http.StatusBadGateway)
}

// h2Out buffers an answer's body on its way into a ResponseWriter, so the
// goroutine path's body copying (conn_body.go) serves HTTP/2 too. A
// streamed body (chunked, or until close) is flushed to the client with
// every write, as ReverseProxy does for bodies of unknown length.
type h2Out struct {
	bw     *bufio.Writer
	w      http.ResponseWriter
	stream bool
}

func (o *h2Out) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if f, ok := o.w.(http.Flusher); ok && err == nil && o.stream {
		f.Flush()
	}
	return n, err
}

var h2Outs = sync.Pool{New: func() any {
	o := &h2Out{}
	o.bw = bufio.NewWriterSize(o, 16<<10)
	return o
}}

func getH2Out(w http.ResponseWriter, stream bool) *h2Out {
	o := h2Outs.Get().(*h2Out)
	o.w, o.stream = w, stream
	o.bw.Reset(o)
	return o
}

func putH2Out(o *h2Out) {
	o.w = nil
	o.bw.Reset(o)
	h2Outs.Put(o)
}
