package router

import (
	"bufio"
	"strconv"
	"unsafe"
)

// bstr views b as a string without copying. The fast front end uses it to
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
	var b [24]byte
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(b[:0], n, 10))
	bw.WriteString("\r\n")
}

// writeError answers with a short plain-text body, as http.Error does. A
// non-empty revision stamps the version that was tried, so errors can be
// attributed.
func (fc *fastConn) writeError(code int, reason, msg, revision string, keep bool) {
	bw := fc.bw
	var b [8]byte
	bw.WriteString("HTTP/1.1 ")
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	bw.WriteString(" ")
	bw.WriteString(reason)
	bw.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	if revision != "" {
		writeFieldString(bw, fc.s.r.tbl.Load().versionHeader, revision)
	}
	if !keep {
		bw.WriteString("Connection: close\r\n")
	}
	writeLength(bw, int64(len(msg)+1))
	bw.WriteString("\r\n")
	bw.WriteString(msg)
	bw.WriteString("\n")
}
