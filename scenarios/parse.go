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
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/suggest"
	"github.com/cdcbench/cdcbench/internal/yamlfile"
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
	err := decodeFile(file, "scenario", data, &s, func() []error {
		if s.Name == "" {
			s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		}
		for i := range s.AgentCommands {
			// List items are decoded after the defaults were applied.
			s.AgentCommands[i].applyDefaults()
		}
		return s.Validate()
	})
	if err != nil {
		return Spec{}, err
	}
	return s, nil
}

// decodeFile decodes data, one YAML document, strictly into out (a pointer
// to a struct), then calls validate, which returns *FieldErrors naming
// fields by their YAML path. It returns nil, or every problem at once
// (errors.Join of *FieldError in line order), each at the line and column
// the decoder marks or, for validate's, at its field's line. kind words
// an empty file ("empty scenario file").
func decodeFile(file, kind string, data []byte, out any, validate func() []error) error {
	l, err := yaml.NewLoader(bytes.NewReader(data), yaml.WithKnownFields(), yaml.WithUniqueKeys())
	if err != nil {
		return fmt.Errorf("scenarios: %w", err) // the options are constant: a build defect
	}
	err = l.Load(out)
	if errors.Is(err, io.EOF) {
		return &FieldError{File: file, Err: fmt.Errorf("empty %s file", kind)}
	}
	if err == nil {
		// A second document would be silently ignored otherwise.
		var extra yaml.Node
		if err := l.Load(&extra); !errors.Is(err, io.EOF) {
			return &FieldError{File: file, Line: extra.Line, Err: errors.New("more than one YAML document")}
		}
	}
	var decodeErrs *yaml.LoadErrors
	if err != nil && !errors.As(err, &decodeErrs) {
		if line, _, msg, ok := yamlfile.Syntax(err, data); ok {
			return &FieldError{File: file, Line: line, Err: errors.New(msg)}
		}
		return &FieldError{File: file, Err: err}
	}
	errs := validate()
	if decodeErrs == nil && len(errs) == 0 {
		return nil
	}
	// Only now is the file indexed by position: the happy path does not pay.
	var doc yaml.Node
	if err := yaml.Load(data, &doc, yaml.WithSingleDocument()); err != nil { // the first: the one decoded
		return &FieldError{File: file, Err: err} // it decoded a moment ago
	}
	idx := newIndex(&doc, reflect.TypeOf(out).Elem())
	var all []*FieldError
	broken := map[string]bool{} // fields whose value did not decode; "" for the whole file
	if decodeErrs != nil {
		for _, le := range decodeErrs.Errors {
			fe, scope, undecoded := idx.decodeError(le)
			fe.File = file
			if undecoded {
				broken[scope] = true
			}
			all = append(all, fe)
		}
	}
	for _, err := range errs {
		fe := err.(*FieldError) // validate returns nothing else
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
	var once []error
	said := map[string]bool{}
	for _, fe := range all {
		if msg := fe.Error(); !said[msg] {
			said[msg] = true
			once = append(once, fe)
		}
	}
	return errors.Join(once...)
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

// index maps a parsed file's YAML paths to lines, and the decoder's
// positions to the keys and values there, each with the Go type it
// decodes into, to word and locate the decoder's and Validate's
// complaints.
type index struct {
	lines map[string]int // path → line of its key (or of its item)
	at    map[yaml.Mark][]indexEntry
}

// indexEntry is a key or a value of the file. A block mapping starts where
// its first key does, so one position may hold both.
type indexEntry struct {
	path  string
	node  *yaml.Node
	typ   reflect.Type // what the value decodes into; for a key, what its mapping does
	key   bool
	owner *yaml.Node // a key's mapping
}

// newIndex indexes doc, which decodes into root. It follows the file only
// as deep as root's types go: the decoder reports nothing below them, and
// a value nested thousands of levels deep costs no more than its first.
func newIndex(doc *yaml.Node, root reflect.Type) *index {
	idx := &index{lines: map[string]int{}, at: map[yaml.Mark][]indexEntry{}}
	for _, c := range doc.Content {
		idx.value(c, "", root)
	}
	return idx
}

func (idx *index) add(e indexEntry) {
	m := yaml.Mark{Line: e.node.Line, Column: e.node.Column}
	idx.at[m] = append(idx.at[m], e)
}

// value indexes n, the value at path, which decodes into typ.
func (idx *index) value(n *yaml.Node, path string, typ reflect.Type) {
	for typ != nil && typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	idx.add(indexEntry{path: path, node: n, typ: typ})
	if typ == nil {
		return
	}
	switch n.Kind {
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
			idx.add(indexEntry{path: p, node: k, typ: typ, key: true, owner: n})
			idx.value(v, p, fieldType(typ, k.Value))
		}
	case yaml.SequenceNode:
		if typ.Kind() != reflect.Slice {
			return
		}
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.lines[p] = v.Line
			idx.value(v, p, typ.Elem())
		}
	}
}

// fieldType is the type key decodes into in a mapping that decodes into
// typ, or nil when none (an unknown field, a mapping where a scalar goes).
func fieldType(typ reflect.Type, key string) reflect.Type {
	switch typ.Kind() {
	case reflect.Map:
		return typ.Elem()
	case reflect.Struct:
		for i := range typ.NumField() {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); name == key {
				return typ.Field(i).Type
			}
		}
	}
	return nil
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

// decodeError words one of the decoder's complaints from what the file
// holds at its position and the Go type that position decodes into: a key
// the type does not have or that its mapping repeats, a value of the wrong
// kind, or the complaint of one of our own unmarshalers (a Duration's, a
// *FieldError). When the complaint means a value was not decoded,
// undecoded is true and scope is its path ("" for the whole file), so that
// Validate's complaints about the leftover value can be dropped.
func (idx *index) decodeError(le *yaml.LoadError) (fe *FieldError, scope string, undecoded bool) {
	line := le.Mark.Line
	entries := idx.at[yaml.Mark{Line: line, Column: le.Mark.Column}]
	for _, e := range entries {
		if !e.key {
			continue
		}
		if e.node.Kind != yaml.ScalarNode {
			return &FieldError{Line: line, Field: parent(e.path), Err: fmt.Errorf("want a name as the key, got %s", describe(e.node))}, parent(e.path), true
		}
		if first := earlierKey(e.owner, e.node); first != nil {
			// The decoder leaves a mapping that repeats a key undecoded.
			return &FieldError{Line: line, Err: fmt.Errorf("duplicate field %q (first at line %d)", e.path, first.Line)}, parent(e.path), true
		}
		if e.typ.Kind() == reflect.Struct && fieldType(e.typ, e.node.Value) == nil {
			return &FieldError{Line: line, Err: idx.unknownField(e.path, e.node.Value, e.typ)}, "", false
		}
	}
	for _, e := range entries {
		if e.key {
			continue
		}
		var own *FieldError
		if errors.As(le, &own) {
			// Already worded for users.
			return &FieldError{Line: line, Field: e.path, Err: own.Err}, e.path, true
		}
		if e.typ == nil {
			break
		}
		return &FieldError{Line: line, Field: e.path, Err: fmt.Errorf("want %s, got %s", wantWord(e.typ), describe(e.node))}, e.path, true
	}
	return &FieldError{Line: line, Err: errors.New(le.Message)}, "", true
}

// earlierKey returns the key before k in mapping m with k's name, or nil.
func earlierKey(m, k *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(m.Content) && m.Content[i] != k; i += 2 {
		if m.Content[i].Value == k.Value {
			return m.Content[i]
		}
	}
	return nil
}

// unknownField words an unknown key with its full path and, when one is
// close, the field of typ probably meant.
func (idx *index) unknownField(path, name string, typ reflect.Type) error {
	prefix := strings.TrimSuffix(path, name)
	if guess := suggest.Closest(name, fieldsOf(typ)); guess != "" {
		return fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownField, path, prefix+guess)
	}
	return fmt.Errorf("%w %q", ErrUnknownField, path)
}

// fieldsOf lists the fields of a struct a file decodes into, by their
// names in the file.
func fieldsOf(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return names
}

// wantWord says in words what a value decoding into t must be.
func wantWord(t reflect.Type) string {
	if t.Kind() == reflect.Struct {
		return "a mapping of fields"
	}
	return typeWord(t.String())
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
