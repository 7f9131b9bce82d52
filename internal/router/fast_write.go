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

// writeError answers with a short plain-text body, as http.Error does. A
// non-empty revision stamps the version that was tried, so errors can be
// attributed.
func (fc *fastConn) writeError(code int, reason, msg, revision string, keep bool) {
	writeErrorTo(fc.bw, fc.s.r.tbl.Load().versionHeader, code, reason, msg, revision, keep)
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
