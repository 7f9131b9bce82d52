package platform

import (
	"errors"
	"strings"
)

// splitArgs splits a rendered command into arguments the way a POSIX shell
// would for plain words and quotes, without running a shell: no variables,
// globs, pipes or redirections, so a revision name can never inject a
// command. Single quotes keep everything literally; inside double quotes a
// backslash escapes only \ " $ and `; outside quotes a backslash escapes
// the next character, and a backslash before a newline continues the line.
func splitArgs(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool // distinguishes an empty quoted argument ("") from no argument
		quote rune // 0, '\'' or '"'
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(rs) && strings.ContainsRune(`\"$`+"`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inArg = c, true
		case c == '\\':
			if i+1 >= len(rs) {
				return nil, errors.New("command ends with a lone backslash")
			}
			i++
			if rs[i] == '\n' { // line continuation, as in a shell
				continue
			}
			cur.WriteRune(rs[i])
			inArg = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(c)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, errors.New("command has an unterminated " + string(quote) + " quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, errors.New("command is empty")
	}
	return args, nil
}
