package yamlfile_test

import (
	"bytes"
	"errors"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/cdcbench/cdcbench/internal/yamlfile"
)

func TestSyntax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		line, col int
		msg       string
	}{
		{"open flow sequence", "a: 1\npaths: [cdc, poll-1s\n", 2, 0,
			"did not find expected ',' or ']' at the end of the file, while parsing a flow sequence that starts at line 2, column 8"},
		{"open flow, no final newline", "rules: [", 1, 0,
			"did not find expected node content at the end of the file, while parsing a flow node"},
		{"a key out of place", "rate:\n  unit: rows/s\n rate: 20\n", 3, 2,
			"did not find expected key at column 2, while parsing a block mapping that starts at line 1, column 1"},
		{"a tab", "rate:\n  unit: rows/s\n\trate: 20\n", 3, 1,
			"found a tab character that violates indentation at column 1, while scanning a plain scalar that starts at line 2, column 9"},
		{"an unquoted star", "rules:\n  - */* missed_alerts == 0\n", 2, 5,
			"unknown anchor '/*' referenced at column 5"},
		{"a colon in a value", "rules:\n  - a: b: c\n", 2, 9,
			"mapping values are not allowed in this context at column 9"},
		{"an open quote", "a: 'x\n", 1, 0,
			"found unexpected end of stream at the end of the file, while scanning a quoted scalar that starts at line 1, column 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			l, err := yaml.NewLoader(bytes.NewReader([]byte(tc.doc)))
			if err != nil {
				t.Fatal(err)
			}
			err = l.Load(&n)
			line, col, msg, ok := yamlfile.Syntax(err, []byte(tc.doc))
			if !ok || line != tc.line || col != tc.col || msg != tc.msg {
				t.Errorf("Syntax(%v) = %d, %d, %q, %v\nwant %d, %d, %q", err, line, col, msg, ok, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// TestNotSyntax: type errors and errors of other origins are not syntax
// errors, even though a *yaml.LoadErrors answers errors.As for its first
// *yaml.LoadError.
func TestNotSyntax(t *testing.T) {
	t.Parallel()
	var v struct{ A int }
	typeErr := yaml.Load([]byte("a: x\n"), &v)
	for _, err := range []error{nil, errors.New("other"), typeErr} {
		if _, _, _, ok := yamlfile.Syntax(err, nil); ok {
			t.Errorf("Syntax(%v) ok", err)
		}
	}
	var many *yaml.LoadErrors
	if !errors.As(typeErr, &many) {
		t.Fatalf("yaml.Load into an int field = %T %v, want *yaml.LoadErrors", typeErr, typeErr)
	}
}
