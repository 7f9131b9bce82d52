package h1

import (
	"strings"
	"testing"
)

// rechunk follows body arriving in pieces of n bytes, as a caller holding
// a buffer would, and returns the data, the body re-encoded, and how many
// bytes of body the message took (-1: it did not end; -2: malformed).
func rechunk(body []byte, n int) (data, out string, end int) {
	var d Chunked
	var held, dataB, outB []byte // held: received, not yet used
	pos, used := 0, 0
	for {
		if k := min(int64(len(held)), d.Left()); k > 0 {
			dataB = append(dataB, held[:k]...)
			outB = append(outB, held[:k]...)
			held, used = held[k:], used+int(k)
			d.Skip(k)
			continue
		}
		if d.Left() == 0 && len(held) > 0 {
			k, line := d.Next(held)
			switch line.Kind {
			case Malformed:
				return string(dataB), string(outB), -2
			case Incomplete:
			default:
				outB = line.Append(outB)
				held, used = held[k:], used+k
				if d.Done() {
					return string(dataB), string(outB), used
				}
				continue
			}
		}
		if pos == len(body) {
			return string(dataB), string(outB), -1
		}
		next := min(pos+n, len(body))
		held = append(held, body[pos:next]...)
		pos = next
	}
}

func TestChunkedRechunked(t *testing.T) {
	for _, c := range []struct {
		in, data, out string
		end           int
	}{
		{"5\r\nhello\r\n0\r\n\r\n", "hello", "5\r\nhello\r\n0\r\n\r\n", 15},
		{"5;ext=1\r\nhello\r\n6 ; x\r\n world\r\n0\r\nT: 1\r\nU: 2\r\n\r\nNEXT", "hello world",
			"5\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\nU: 2\r\n\r\n", 48},
		{"A\nabcdefghij\n0\n\n", "abcdefghij", "a\r\nabcdefghij\r\n0\r\n\r\n", 16},
		{"0000000000000003\r\nabc\r\n0\r\n\r\n", "abc", "3\r\nabc\r\n0\r\n\r\n", 28}, // 16 digits, as net/http allows
		{"3\r\nabc\r\n0\r\n", "abc", "3\r\nabc\r\n0\r\n", -1},
	} {
		for _, n := range []int{1, 2, 7, len(c.in)} {
			data, out, end := rechunk([]byte(c.in), n)
			if data != c.data || out != c.out || end != c.end {
				t.Errorf("%q in pieces of %d: data %q out %q end %d; want %q %q %d", c.in, n, data, out, end, c.data, c.out, c.end)
			}
		}
	}
}

func TestChunkedRefuses(t *testing.T) {
	for _, in := range []string{
		"\r\n",                                  // no size
		"x\r\n",                                 // not hex
		"5x\r\nhello\r\n",                       // junk after the size
		"5\r\nhelloXY\r\n",                      // data longer than its size
		"00000000000000003\r\nabc\r\n0\r\n\r\n", // 17 digits
		"8000000000000000\r\n",                  // over an int64
		"5;" + strings.Repeat("e", MaxChunkLine) + "\r\n",
		"0\r\nT: " + strings.Repeat("t", MaxChunkLine) + "\r\n\r\n",
	} {
		if _, _, end := rechunk([]byte(in), 3); end != -2 {
			t.Errorf("%.40q: end %d, want malformed", in, end)
		}
	}
	long := "5;" + strings.Repeat("e", MaxChunkLine-5) + "\r\nhello\r\n0\r\n\r\n" // a size line of exactly MaxChunkLine
	if data, _, end := rechunk([]byte(long), 100); data != "hello" || end != len(long) {
		t.Errorf("a line of MaxChunkLine bytes: data %q end %d", data, end)
	}
}
