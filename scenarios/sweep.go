package scenarios

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/suggest"
)

// SweepSpec is one axis of a sweep: a field of the scenario and the values
// it takes, one cell per combination of the axes' values. Values are kept
// as written ("1000", "10ms", "default") and converted per field, so that
// a cell's label reads like the file.
type SweepSpec struct {
	Field  string   `yaml:"field"`
	Values []string `yaml:"values"`
}

// FieldValue is the value one swept field has in a cell.
type FieldValue struct {
	Field string
	Value string
}

// Cell is one run of a sweep: the scenario with one value of every axis.
type Cell struct {
	Index  int          // 1-based, in the order the cells run
	Values []FieldValue // one per axis, in the sweep's order
	// Spec is the scenario with the values set and no sweep: what the cell
	// runs, under the scenario's own name. Its Settings and Paths are its
	// own copies; the other slices are shared with the scenario and its
	// other cells, for reading only.
	Spec Spec
}

// SweepDefault is the value of a settings.<path>.<key> axis that leaves
// the key unset, so that a cell measures the connector's own default.
const SweepDefault = "default"

// MaxSweepCells bounds a sweep's cells. Axes multiply: five fields of four
// values are 1,024 runs, days of measuring, which is a typo in a file more
// often than a plan. `cdcbench run` asks for --yes well below this.
const MaxSweepCells = 1000

// settingsPrefix starts an axis over a path's connector setting:
// settings.<path>.<key>.
const settingsPrefix = "settings."

// sweepField is a field a sweep can vary (settings.<path>.<key> aside) and
// how one of its values is written into a Spec.
type sweepField struct {
	name string
	set  func(s *Spec, value string) error
}

// sweepFields are the fields a sweep can vary besides settings, in the
// order the README lists them.
var sweepFields = []sweepField{
	{"rate", func(s *Spec, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a rate in %s (a number), got %q", s.Rate.Unit, v)
		}
		s.Rate.Rate = f
		return nil
	}},
	{"batch_size", intField(func(s *Spec) *int { return &s.BatchSize })},
	{"connections", intField(func(s *Spec) *int { return &s.Connections })},
	{"partitions", intField(func(s *Spec) *int { return &s.Partitions })},
	{"duration", func(s *Spec, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration with a unit such as \"60s\", got %q", v)
		}
		s.Duration = Duration(d)
		return nil
	}},
}

// intField sets the integer field get returns.
func intField(get func(*Spec) *int) func(*Spec, string) error {
	return func(s *Spec, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*get(s) = n
		return nil
	}
}

// sweepFieldNames are the fields an axis may name, for messages.
func sweepFieldNames() []string {
	names := make([]string, 0, len(sweepFields)+1)
	for _, f := range sweepFields {
		names = append(names, f.name)
	}
	return append(names, settingsPrefix+"<path>.<key>")
}

// axis is a SweepSpec resolved against its scenario.
type axis struct {
	field  string
	values []string
	set    func(*Spec, string) error
}

// Cells expands the sweep into its cells: the cartesian product of the
// axes' values in the order the sweep declares them, the first axis
// varying slowest, as nested loops would. A scenario without a sweep has
// none. It fails with Validate's errors when the scenario, its sweep or
// any cell is invalid, so that every cell it returns can run.
func (s Spec) Cells() ([]Cell, error) {
	if s.Sweep == nil {
		return nil, nil
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, errors.Join(errs...))
	}
	return s.expand(&validator{}), nil
}

// Label names the cell by its values, as they read in the file:
// "rate=5000, settings.debezium.poll.interval.ms=10".
func (c Cell) Label() string {
	parts := make([]string, len(c.Values))
	for i, fv := range c.Values {
		parts[i] = fv.Field + "=" + fv.Value
	}
	return strings.Join(parts, ", ")
}

// maxSlug bounds Slug: a directory name, not a description.
const maxSlug = 60

// Slug is the label as a file name: "rate-5000_poll.interval.ms-10". A
// settings axis is named by its key alone, and anything but letters,
// digits, '.', '_' and '-' is replaced, as values may hold anything.
func (c Cell) Slug() string {
	parts := make([]string, len(c.Values))
	for i, fv := range c.Values {
		name := fv.Field
		if rest, ok := strings.CutPrefix(name, settingsPrefix); ok {
			_, name, _ = strings.Cut(rest, ".")
		}
		parts[i] = name + "-" + fv.Value
	}
	slug := []rune(strings.Map(func(r rune) rune {
		if r < 128 && nameRE.MatchString(string(r)) {
			return r
		}
		return '-'
	}, strings.Join(parts, "_")))
	return string(slug[:min(len(slug), maxSlug)])
}

// maxCellErrors is how many invalid cells Validate names one by one; a
// mistake usually breaks many cells alike, and the first few say what.
const maxCellErrors = 5

// validateSweep checks the sweep's axes and then every cell as a scenario
// of its own, naming the cell: "sweep: cell 3 (rate=5000, batch_size=10):
// rate: offers 0.50 batches/s ...". Cells are checked only when nothing
// else is wrong, since each would repeat the scenario's own errors; so
// Validate calls it last.
func (s Spec) validateSweep(v *validator) {
	if s.Sweep == nil {
		return
	}
	cells := s.expand(v)
	if len(v.errs) > 0 {
		return
	}
	bad := 0
	for _, c := range cells {
		errs := c.Spec.Validate()
		if len(errs) == 0 {
			continue
		}
		if bad++; bad <= maxCellErrors {
			msgs := make([]string, len(errs))
			for i, err := range errs {
				msgs[i] = err.Error()
			}
			v.add("sweep", "cell %d (%s): %s", c.Index, c.Label(), strings.Join(msgs, "; "))
		}
	}
	if bad > maxCellErrors {
		v.add("sweep", "%d more of the %d cells are invalid", bad-maxCellErrors, len(cells))
	}
}

// expand resolves the axes, reporting what is wrong with them into v, and
// when nothing is returns every cell in order.
func (s Spec) expand(v *validator) []Cell {
	if len(s.Sweep) == 0 {
		v.add("sweep", "at least one field to sweep is required, such as {field: rate, values: [1000, 5000]}")
		return nil
	}
	axes := make([]axis, 0, len(s.Sweep))
	n := 1
	for i, sw := range s.Sweep {
		a, ok := s.resolveAxis(v, i, sw)
		if !ok {
			continue
		}
		axes = append(axes, a)
		n = min(n*len(a.values), MaxSweepCells+1) // bounded: no overflow
	}
	if len(v.errs) > 0 {
		return nil
	}
	if n > MaxSweepCells {
		v.add("sweep", "more than %d cells (the axes' value counts multiply); split the sweep into several scenarios", MaxSweepCells)
		return nil
	}
	cells := make([]Cell, n)
	at := make([]int, len(axes)) // an odometer over the axes' values, the last fastest
	for k := range cells {
		c := Cell{Index: k + 1, Spec: s.cellBase(), Values: make([]FieldValue, len(axes))}
		for j, a := range axes {
			value := a.values[at[j]]
			c.Values[j] = FieldValue{a.field, value}
			_ = a.set(&c.Spec, value) // every value was tried by resolveAxis
		}
		cells[k] = c
		for j := len(at) - 1; j >= 0; j-- {
			if at[j]++; at[j] < len(axes[j].values) {
				break
			}
			at[j] = 0
		}
	}
	return cells
}

// cellBase is s without its sweep, with Settings and Paths copied so that
// setting one cell's value does not change another's.
func (s Spec) cellBase() Spec {
	c := s
	c.Sweep = nil
	c.Paths = slices.Clone(s.Paths)
	if s.Settings != nil {
		c.Settings = make(map[string]map[string]string, len(s.Settings))
		for path, kv := range s.Settings {
			c.Settings[path] = maps.Clone(kv)
		}
	}
	return c
}

// resolveAxis checks the i-th axis and every value it takes, reporting
// into v; ok is false when the axis cannot be used.
func (s Spec) resolveAxis(v *validator, i int, sw SweepSpec) (axis, bool) {
	field := fmt.Sprintf("sweep[%d]", i)
	set, err := s.axisSetter(sw.Field)
	if err != nil {
		v.errs = append(v.errs, &FieldError{Field: field + ".field", Err: err})
		return axis{}, false
	}
	for j := range i {
		if s.Sweep[j].Field == sw.Field {
			v.add(field+".field", "%q repeats sweep[%d]", sw.Field, j)
			return axis{}, false
		}
	}
	if len(sw.Values) == 0 {
		v.add(field+".values", "at least one value is required")
		return axis{}, false
	}
	before := len(v.errs)
	scratch := s.cellBase()
	for j, value := range sw.Values {
		vf := fmt.Sprintf("%s.values[%d]", field, j)
		switch {
		case strings.TrimSpace(value) == "":
			v.add(vf, "want a value, got an empty one")
		case slices.Index(sw.Values, value) < j:
			v.add(vf, "%q repeats values[%d]", value, slices.Index(sw.Values, value))
		case value == SweepDefault && !strings.HasPrefix(sw.Field, settingsPrefix):
			v.add(vf, "%q leaves a settings key unset; %s needs a value", SweepDefault, sw.Field)
		default:
			if err := set(&scratch, value); err != nil {
				v.errs = append(v.errs, &FieldError{Field: vf, Err: err})
			}
		}
	}
	return axis{field: sw.Field, values: sw.Values, set: set}, len(v.errs) == before
}

// axisSetter returns how a value of field is written into a Spec, or why
// s cannot sweep field.
func (s Spec) axisSetter(field string) (func(*Spec, string) error, error) {
	if rest, ok := strings.CutPrefix(field, settingsPrefix); ok {
		return s.settingSetter(rest)
	}
	for _, f := range sweepFields {
		if f.name != field {
			continue
		}
		if f.name == "rate" && s.Rate.Shape != ShapeConstant && shapeFields[s.Rate.Shape] != nil {
			return nil, fmt.Errorf("rate sweeps a constant shape's rate (rate.rate); shape %q has %s instead, which one number cannot set: make the shape constant, or write one scenario per shape",
				s.Rate.Shape, strings.Join(shapeFields[s.Rate.Shape], ", "))
		}
		return f.set, nil
	}
	names := sweepFieldNames()
	if field == "" {
		return nil, fmt.Errorf("required: one of %s", strings.Join(names, ", "))
	}
	head, _, _ := strings.Cut(field, ".")
	if guess := suggest.Closest(head+".", []string{settingsPrefix}); guess != "" && strings.Contains(field, ".") {
		return nil, fmt.Errorf("%w %q (did you mean %q?); a sweep varies %s", ErrUnknownField, field, settingsPrefix+strings.TrimPrefix(field, head+"."), strings.Join(names, ", "))
	}
	if guess := suggest.Closest(field, names[:len(sweepFields)]); guess != "" {
		return nil, fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownField, field, guess)
	}
	return nil, fmt.Errorf("%w %q: a sweep varies %s", ErrUnknownField, field, strings.Join(names, ", "))
}

// settingSetter resolves "<path>.<key>" (what follows "settings."): the
// path must be one the scenario runs, and the key is everything after it,
// dots included ("poll.interval.ms"). Paths may hold dots themselves
// (poll-1.5s), so the longest path that fits is taken. Which keys a path
// takes is Validate's to check, in the cells.
func (s Spec) settingSetter(rest string) (func(*Spec, string) error, error) {
	path := ""
	for _, p := range s.Paths {
		if len(rest) > len(p)+1 && strings.HasPrefix(rest, p+".") && len(p) > len(path) {
			path = p
		}
	}
	if path == "" {
		head, _, _ := strings.Cut(rest, ".")
		if slices.Contains(s.Paths, strings.TrimSuffix(rest, ".")) {
			return nil, fmt.Errorf("%s%s: want settings.<path>.<key>: no key follows path %q", settingsPrefix, rest, strings.TrimSuffix(rest, "."))
		}
		err := fmt.Errorf("%s%s: path %q is not one of paths [%s]", settingsPrefix, rest, head, strings.Join(s.Paths, ", "))
		if guess := suggest.Closest(head, s.Paths); guess != "" {
			err = fmt.Errorf("%w (did you mean %q?)", err, guess)
		}
		return nil, err
	}
	key := strings.TrimPrefix(rest, path+".")
	return func(c *Spec, value string) error {
		if value == SweepDefault {
			delete(c.Settings[path], key)
			if len(c.Settings[path]) == 0 {
				delete(c.Settings, path)
			}
			return nil
		}
		if c.Settings == nil {
			c.Settings = map[string]map[string]string{}
		}
		if c.Settings[path] == nil {
			c.Settings[path] = map[string]string{}
		}
		c.Settings[path][key] = value
		return nil
	}, nil
}
