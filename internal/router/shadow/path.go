package shadow

import "strings"

// Endpoint names the endpoint of a request: its method and its path with
// the query dropped and id-like segments (numbers, UUIDs, long hex or
// mixed letter-and-digit tokens) replaced by "{id}", so /users/42 and
// /users/43 count together.
func Endpoint(method, target string) string {
	path, _, _ := strings.Cut(target, "?")
	if path == "" {
		path = "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if idLike(s) {
			segs[i] = "{id}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}

func idLike(s string) bool {
	if s == "" {
		return false
	}
	digits, hex, other := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits++
		case 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			hex++
		case c == '-' || c == '_':
		default:
			other++
		}
	}
	switch {
	case digits == len(s):
		return true // 42
	case other == 0 && digits > 0 && len(s) >= 8:
		return true // a UUID, a hex digest
	}
	return digits >= 2 && len(s) >= 12 // an opaque token such as "ord7x2k9q3m1"
}
