package gate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/yamlfile"
	"go.yaml.in/yaml/v4"
)

// DefaultAlpha is the significance level when a gate file does not set
// alpha: a relative rule fails only on a change this unlikely to be noise.
const DefaultAlpha = 0.05

// Spec is a parsed gate file.
type Spec struct {
	File  string  // as given to Load or Parse, for messages
	Alpha float64 // significance level of relative rules
	Rules []Rule
}

// ParseError is a mistake in a gate file, located as file:line so editors
// and CI logs link to it.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// charAt returns the byte at a 1-based line and column of data, or 0.
func charAt(data []byte, line, column int) byte {
	if line < 1 || column < 1 {
		return 0
	}
	lines := bytes.SplitN(data, []byte("\n"), line+1)
	if len(lines) < line || len(lines[line-1]) < column {
		return 0
	}
	return lines[line-1][column-1]
}

// MaxRulesBytes bounds a gate file: rules are a few lines each, and a
// 40 MB file was an out-of-memory kill under a 3 GB limit.
const MaxRulesBytes = 1 << 20

// LoadSpec reads and parses the gate file at path (a regular file of at
// most MaxRulesBytes).
func LoadSpec(path string) (*Spec, error) {
	b, err := inputfile.Read(path, MaxRulesBytes)
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	return Parse(path, b)
}

// Parse parses a gate file; name is used in error messages. The file is a
// YAML mapping with an optional alpha (default 0.05) and a list of rules,
// one rule per line:
//
//	rule      = "valid"
//	          | [selector] metric op limit
//	selector  = path | path "/" agent | path "/*" | "*"     (a bare path, or none, means every agent; no selector means every path)
//	metric    = "e2e" stat | "stages." stage stat | count
//	stat      = p50 | p90 | p99 | p999 (or p99.9) | max | mean
//	count     = events | expected_events | events_missing | duplicate_events
//	          | alerts | expected_alerts | missed_alerts | unexpected_alerts
//	op        = < | <= | > | >= | == | !=
//	limit     = duration                   latencies: 250ms, 1.5s (absolute)
//	          | number                     counts: 0 (absolute)
//	          | factor "x" "baseline"      the same figure in the baseline
//	          | factor "x" path[/agent] metric   another figure of the same run;
//	                                       without /agent, the rule's own agent
//
// Examples: "cdc/velocity e2e p99 < 250ms", "missed_alerts == 0",
// "cdc e2e p50 <= 1.2 x baseline", "cdc e2e p50 <= 0.15 x poll-100ms e2e p99".
// A YAML comment (# ...) may follow a rule. A path called "*" must be
// quoted in YAML ("'*/velocity e2e p99 < 1s'"), since YAML reads * as an
// alias; a rule without a selector says the same.
//
// When no rule is "valid", Parse adds one (Rule.Implied): an invalid run
// never passes a gate, whatever its latencies. Errors are *ParseError.
func Parse(name string, data []byte) (*Spec, error) {
	spec := &Spec{File: name, Alpha: DefaultAlpha}
	perr := func(line int, format string, args ...any) error {
		return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err == nil {
		err = l.Load(&doc)
	}
	if errors.Is(err, io.EOF) {
		return nil, perr(0, "empty: a gate file is a mapping with alpha and rules")
	}
	if err != nil {
		line, column, msg, ok := yamlfile.Syntax(err, data)
		if !ok {
			return nil, perr(0, "not a gate file: %v", err)
		}
		if charAt(data, line, column) == '*' {
			msg += ": YAML reads * as an alias; quote a rule that starts with it ('*/velocity e2e p99 < 1s')"
		}
		return nil, perr(line, "not a gate file: %s", msg)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, perr(doc.Line, "a gate file is a mapping with alpha and rules")
	}
	top := doc.Content[0]
	var rules *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "alpha":
			a, err := strconv.ParseFloat(v.Value, 64)
			if v.Kind != yaml.ScalarNode || err != nil || a <= 0 || a >= 1 {
				return nil, perr(v.Line, "alpha is a significance level between 0 and 1 such as 0.05, not %q", v.Value)
			}
			spec.Alpha = a
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return nil, perr(v.Line, "rules is a list, one rule per line starting with \"- \"")
			}
			rules = v
		default:
			return nil, perr(k.Line, "unknown key %q; a gate file has alpha and rules", k.Value)
		}
	}
	if rules == nil || len(rules.Content) == 0 {
		return nil, perr(top.Line, "no rules")
	}
	hasValid := false
	for _, n := range rules.Content {
		if n.Kind != yaml.ScalarNode {
			return nil, perr(n.Line, "a rule is one line of text such as \"cdc e2e p99 < 250ms\" (quote it if it contains \": \")")
		}
		r, err := parseRule(n.Value)
		if err != nil {
			return nil, perr(n.Line, "%v in %q", err, n.Value)
		}
		r.Line = n.Line
		hasValid = hasValid || r.Kind == Valid
		spec.Rules = append(spec.Rules, r)
	}
	if !hasValid {
		spec.Rules = append([]Rule{{Text: "valid", Kind: Valid, Implied: true}}, spec.Rules...)
	}
	return spec, nil
}
