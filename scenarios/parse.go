package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/suggest"
)

//go:embed *.yaml
var builtins embed.FS

// ErrUnknownScenario reports a name that is neither a file nor a built-in.
var ErrUnknownScenario = errors.New("unknown scenario")

// ErrUnknownField reports a key the Spec does not have, usually a typo.
var ErrUnknownField = errors.New("unknown field")

// MaxFileBytes is the largest scenario file cdcbench reads. A scenario is
// a few hundred bytes of settings (the largest built-in is under 2 kB); a
// file a thousand times that is a mistake or an attack, and YAML decoding
// costs several times the file's size in memory (a 1 GB description took
// 9 GB), so a larger file is refused before it is parsed.
const MaxFileBytes = 1 << 20

// ErrTooLarge reports a scenario file above MaxFileBytes.
var ErrTooLarge = errors.New("scenario file too large")

// Load reads and parses the scenario file at path: a regular file of at
// most MaxFileBytes (inputfile), refused unparsed otherwise.
func Load(path string) (Spec, error) {
	data, err := inputfile.Read(path, MaxFileBytes)
	if errors.Is(err, inputfile.ErrTooLarge) {
		return Spec{}, tooLargeError(path)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("scenarios: %w", err)
	}
	return Parse(path, data)
}

// tooLarge is Parse's refusal of data above MaxFileBytes.
func tooLarge(file string, data []byte) error {
	if len(data) <= MaxFileBytes {
		return nil
	}
	return tooLargeError(file)
}

func tooLargeError(file string) error {
	return &FieldError{File: file, Err: fmt.Errorf("%w: more than %d bytes (1 MiB), the most cdcbench reads: a scenario is a few hundred bytes of settings, and decoding a huge file would take several times its size in memory",
		ErrTooLarge, MaxFileBytes)}
}

// Builtin returns the built-in scenario name (its file name without .yaml).
func Builtin(name string) (Spec, error) {
	data, err := builtins.ReadFile(name + ".yaml")
	if err != nil {
		return Spec{}, fmt.Errorf("scenarios: %w %q: not a file and not a built-in (built-ins: %s)",
			ErrUnknownScenario, name, strings.Join(builtinNames(), ", "))
	}
	return Parse(name+".yaml", data)
}

// List returns every built-in scenario, sorted by name. The package's tests
// parse every built-in, so a broken one is a build defect: List panics.
func List() []Spec {
	names := builtinNames()
	out := make([]Spec, len(names))
	for i, name := range names {
		s, err := Builtin(name)
		if err != nil {
			panic(err)
		}
		out[i] = s
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func builtinNames() []string {
	files, _ := builtins.ReadDir(".") // the embedded root always exists
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, strings.TrimSuffix(f.Name(), ".yaml"))
	}
	return names
}

// Resolve treats nameOrPath as a file when it names an existing file,
// contains a slash or ends in .yaml, and as a built-in otherwise.
func Resolve(nameOrPath string) (Spec, error) {
	if fi, err := os.Stat(nameOrPath); (err == nil && fi.Mode().IsRegular()) ||
		strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".yaml") {
		return Load(nameOrPath)
	}
	return Builtin(nameOrPath)
}

// Parse decodes a scenario file strictly, applies the defaults and
// validates it. file names the source in messages and, without its
// extension, is the Spec's name when the file sets none. Every problem is
// reported at once (errors.Join of *FieldError), each located by line:
//
//	burst.yaml:3: unknown field "bach_size" (did you mean "batch_size"?)
//	burst.yaml:4: batch_size: want an integer, got a string "fifty"
//	burst.yaml:7: rate.unit: required: one of "rows/s", "batches/s"
//
// Defaults are applied before decoding, so an explicit zero in the file is
// kept rather than replaced. Data above MaxFileBytes is refused unparsed.
func Parse(file string, data []byte) (Spec, error) {
	if err := tooLarge(file, data); err != nil {
		return Spec{}, err
	}
	var s Spec
	s.ApplyDefaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&s)
	if errors.Is(err, io.EOF) {
		return Spec{}, &FieldError{File: file, Err: errors.New("empty scenario file")}
	}
	if err == nil {
		// A second document would be silently ignored otherwise.
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return Spec{}, &FieldError{File: file, Line: extra.Line, Err: errors.New("more than one YAML document")}
		}
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return Spec{}, syntaxError(file, data, err)
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	for i := range s.AgentCommands {
		// List items are decoded after the defaults were applied.
		s.AgentCommands[i].applyDefaults()
	}
	errs := s.Validate()
	if te == nil && len(errs) == 0 {
		return s, nil
	}
	// Only now is the file indexed by line: the happy path does not pay.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Spec{}, syntaxError(file, data, err)
	}
	idx := newIndex(&doc)
	var all []*FieldError
	broken := map[string]bool{} // fields whose value did not decode; "" for the whole file
	if te != nil {
		for _, msg := range te.Errors {
			fe, scope, undecoded := idx.decodeError(msg)
			fe.File = file
			if undecoded {
				broken[scope] = true
			}
			all = append(all, fe)
		}
	}
	for _, err := range errs {
		fe := err.(*FieldError) // Validate returns nothing else
		if brokenField(broken, fe.Field) {
			continue // its value is whatever failed to decode; one message is enough
		}
		located := *fe
		located.File = file
		located.Line = idx.line(fe.Field)
		all = append(all, &located)
	}
	sort.SliceStable(all, func(i, j int) bool {
		li, lj := all[i].Line, all[j].Line
		return li != 0 && (lj == 0 || li < lj)
	})
	// An alias repeats its anchor's value, and each repetition of a bad
	// value its error: say each once.
	var out []error
	said := map[string]bool{}
	for _, fe := range all {
		if msg := fe.Error(); !said[msg] {
			said[msg] = true
			out = append(out, fe)
		}
	}
	return Spec{}, errors.Join(out...)
}

// brokenField reports whether field or one of its parents failed to decode.
func brokenField(broken map[string]bool, field string) bool {
	for f := field; f != ""; f = parent(f) {
		if broken[f] {
			return true
		}
	}
	return broken[""]
}

// parent returns the YAML path one level up: "rate.stages[1]" → "rate.stages" → "rate" → "".
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

var syntaxRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of libyaml's parser (as opposed to its
// scanner). yaml.v3 reports their line from a 0-based mark, one less than
// the line at fault (go-yaml/yaml#1066), while scanner lines are right.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

func syntaxError(file string, data []byte, err error) error {
	m := syntaxRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &FieldError{File: file, Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	if parserProblems[m[2]] {
		line = min(line+1, bytes.Count(data, []byte("\n"))+1)
	}
	return &FieldError{File: file, Line: line, Err: errors.New(m[2])}
}

// index maps a parsed file's YAML paths to lines and back, to locate the
// decoder's and Validate's complaints.
type index struct {
	lines map[string]int       // path → line of its key (or of its item)
	at    map[int][]indexEntry // line → values starting on it
	used  map[*yaml.Node]bool  // values a decode error was already put on
}

type indexEntry struct {
	path  string
	value *yaml.Node
}

func newIndex(doc *yaml.Node) *index {
	idx := &index{lines: map[string]int{}, at: map[int][]indexEntry{}, used: map[*yaml.Node]bool{}}
	idx.walk(doc, "")
	return idx
}

func (idx *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			idx.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, dup := idx.lines[p]; !dup {
				idx.lines[p] = k.Line
			}
			idx.at[v.Line] = append(idx.at[v.Line], indexEntry{p, v})
			idx.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.lines[p] = v.Line
			idx.at[v.Line] = append(idx.at[v.Line], indexEntry{p, v})
			idx.walk(v, p)
		}
	}
}

// line returns the line of path, or of its nearest parent the file has (a
// missing rate.unit points at "rate:"), or 0.
func (idx *index) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := idx.lines[p]; ok {
			return l
		}
	}
	return 0
}

// offending returns the field a "cannot unmarshal TAG `VALUE` into TARGET"
// message on line is about: a value on that line of TAG's kind (a scalar
// starting with prefix: the decoder abbreviates long values). yaml.v3 gives
// no column, so when several qualify (`paths: [cdc, [poll-1s]]` has two
// lists on one line), a scalar TARGET means an innermost one (an element
// that should have been a scalar), anything else the outermost; and each
// message for the same line (one per bad element, in document order) takes
// the next one.
func (idx *index) offending(line int, tag, prefix, target string) (indexEntry, bool) {
	kind := yaml.ScalarNode
	switch tag {
	case "!!seq":
		kind = yaml.SequenceNode
	case "!!map":
		kind = yaml.MappingNode
	}
	var fits []indexEntry
	for _, e := range idx.at[line] {
		if e.value.Kind == kind && (kind != yaml.ScalarNode || strings.HasPrefix(e.value.Value, prefix)) {
			fits = append(fits, e)
		}
	}
	if len(fits) == 0 {
		return idx.first(line)
	}
	if _, mapping := specTypes[target]; !mapping && !strings.HasPrefix(target, "[]") {
		// Innermost: drop the values that directly hold one of the same
		// kind (linear: a file may nest thousands of levels on one line).
		fits = slices.DeleteFunc(fits, func(outer indexEntry) bool {
			return slices.ContainsFunc(outer.value.Content, func(c *yaml.Node) bool { return c.Kind == kind && c.Line == line })
		})
	}
	for _, e := range fits {
		if !idx.used[e.value] {
			idx.used[e.value] = true
			return e, true
		}
	}
	return fits[0], true
}

// valueAt returns the field whose value starts at line and column.
func (idx *index) valueAt(line, column int) (indexEntry, bool) {
	for _, e := range idx.at[line] {
		if e.value.Column == column {
			return e, true
		}
	}
	return idx.first(line)
}

func (idx *index) first(line int) (indexEntry, bool) {
	if es := idx.at[line]; len(es) > 0 {
		return es[0], true
	}
	return indexEntry{}, false
}

var (
	lineRE      = regexp.MustCompile(`^line (\d+): (?:column (\d+): )?(.*)$`)
	notFoundRE  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	duplicateRE = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	unmarshalRE = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: ` + "`(.*)`" + `)? into (.+)$`)
)

// decodeError turns one of yaml.v3's "line N: ..." messages into a
// FieldError naming the field. When the message means a value was not
// decoded, undecoded is true and scope is its path ("" for the whole file),
// so that Validate's complaints about the leftover value can be dropped.
func (idx *index) decodeError(msg string) (fe *FieldError, scope string, undecoded bool) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return &FieldError{Err: errors.New(msg)}, "", true
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[3]
	if f := notFoundRE.FindStringSubmatch(rest); f != nil {
		return &FieldError{Line: line, Err: idx.unknownField(line, f[1], f[2])}, "", false
	}
	if d := duplicateRE.FindStringSubmatch(rest); d != nil {
		// yaml.v3 skips a whole mapping that repeats a key.
		first, _ := strconv.Atoi(d[2])
		path := idx.keyAt(first, d[1])
		return &FieldError{Line: line, Err: fmt.Errorf("duplicate field %q (first at line %d)", path, first)}, parent(path), true
	}
	if u := unmarshalRE.FindStringSubmatch(rest); u != nil {
		e, ok := idx.offending(line, u[1], strings.TrimSuffix(u[2], "..."), u[3])
		if !ok || u[3] == specType.String() {
			// The document itself is not a mapping.
			return &FieldError{Line: line, Err: fmt.Errorf("want %s, got %s", typeWord(u[3]), tagWord(u[1]))}, "", true
		}
		return &FieldError{Line: line, Field: e.path, Err: fmt.Errorf("want %s, got %s", typeWord(u[3]), describe(e.value))}, e.path, true
	}
	// Messages of our own unmarshalers (Duration), already worded for
	// users and carrying the column.
	column, _ := strconv.Atoi(m[2])
	e, _ := idx.valueAt(line, column)
	return &FieldError{Line: line, Field: e.path, Err: errors.New(rest)}, e.path, true
}

// keyAt returns the path of the key name on line, or name if none is there.
func (idx *index) keyAt(line int, name string) string {
	for p, l := range idx.lines {
		if l == line && (p == name || strings.HasSuffix(p, "."+name)) {
			return p
		}
	}
	return name
}

// unknownField words an unknown key with its full path and, when one is
// close, the field probably meant.
func (idx *index) unknownField(line int, name, typ string) error {
	path := idx.keyAt(line, name)
	prefix := strings.TrimSuffix(path, name)
	if guess := suggest.Closest(name, fieldsOf(typ)); guess != "" {
		return fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownField, path, prefix+guess)
	}
	return fmt.Errorf("%w %q", ErrUnknownField, path)
}

// specTypes are the struct types a file decodes into, by the name yaml.v3
// prints, so that an unknown field can be compared with the known ones.
var specTypes = map[string]reflect.Type{}

var specType = reflect.TypeOf(Spec{})

func init() {
	for _, v := range []any{Spec{}, RateSpec{}, StageSpec{}, PollSpec{}, OutlierSpec{}, VelocitySpec{}, ObjectiveSpec{}, SweepSpec{}} {
		t := reflect.TypeOf(v)
		specTypes[t.String()] = t
	}
}

func fieldsOf(typ string) []string {
	t, ok := specTypes[typ]
	if !ok {
		return nil
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return names
}

// typeWord says in words what a Go type wants.
func typeWord(goType string) string {
	switch goType {
	case "int":
		return "an integer"
	case "uint64":
		return "a non-negative integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "[]scenarios.StageSpec":
		return "a list of stages ({rate, duration})"
	case "[]scenarios.SweepSpec":
		return "a list of fields to sweep ({field, values})"
	case "[]scenarios.AgentCommandSpec":
		return "a list of agents ({name, rule, command, ...})"
	case "map[string]string":
		return "a mapping of names to strings"
	}
	if _, ok := specTypes[goType]; ok {
		return "a mapping of fields"
	}
	return goType
}

// tagWord says in words what a YAML tag is.
func tagWord(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	}
	return tag
}

// describe says what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("%s %q", tagWord(n.ShortTag()), n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "an alias"
}
