package yamlfile

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v4"
)

// Syntax returns the line and column (1-based; 0 when the decoder knows
// none, or the column past the end of the file) and the message of a
// syntax error, the decoder's own *yaml.LoadError from reading data. ok
// is false for anything else, type errors (*yaml.LoadErrors) included.
func Syntax(err error, data []byte) (line, column int, msg string, ok bool) {
	var many *yaml.LoadErrors
	var le *yaml.LoadError
	if errors.As(err, &many) || !errors.As(err, &le) {
		return 0, 0, "", false
	}
	msg, m := le.Message, le.Mark
	switch {
	case m.Line > 0 && m.Index >= len(data):
		// Past the last character: libyaml's line there may be one
		// the file does not have.
		m.Line, m.Column = lastLine(data), 0
		msg += " at the end of the file"
	case m.Column > 0:
		msg += fmt.Sprintf(" at column %d", m.Column)
	}
	if c := le.ContextMark; le.ContextMsg != "" {
		msg += ", " + le.ContextMsg
		if c.Line > 0 && c != le.Mark {
			msg += fmt.Sprintf(" that starts at line %d, column %d", c.Line, c.Column)
		}
	}
	return m.Line, m.Column, msg, true
}

// lastLine is the number of data's last line, 1 for no data.
func lastLine(data []byte) int {
	n := 1
	for i, b := range data {
		if b == '\n' && i < len(data)-1 {
			n++
		}
	}
	return n
}
