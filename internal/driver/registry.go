package driver

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is a path kind as its driver file registers it (Register, from an
// init function): which path names it takes, how a path of it runs, and
// what the rest of cdcbench needs to know about it without running it.
// Scenarios validate path names and settings here; the runner, machine
// cost, the reports (through result.json) and the sweep estimate read
// Traits; none of them names a kind.
type Kind struct {
	// Name names the kind and its paths: Name itself where Bare, and
	// Name-<param> where the kind has a Param.
	Name string
	Bare bool
	// Param checks what follows "Name-" in a path name and returns it as
	// it is canonically spelled ("0.25s" → "250ms"); nil for a kind whose
	// paths take none. Its error says why, after the path name.
	Param func(param string) (string, error)
	// Syntax describes the kind's path names in error messages, as in
	// `"poll-<interval>" such as "poll-100ms"`.
	Syntax string
	// Default is the path a scenario that names none runs of this kind;
	// "" for none.
	Default string
	// New returns the driver of path p.
	New func(p Path, cfg Config) (Driver, error)
	// Traits are the kind's properties on a run whose "cdc" path runs cdc
	// (stack.CDCRelay or stack.CDCDebezium).
	Traits func(cdc string) Traits
	// CheckSetting checks one of a path's settings (scenario settings)
	// offline, before anything runs; nil for a kind that takes none.
	CheckSetting func(key, value string) error
	// SettingsSyntax names the paths that take settings in error messages,
	// as in "Debezium paths (debezium, debezium-<label>)".
	SettingsSyntax string
}

// Traits are what the harness asks of a path before it runs it.
type Traits struct {
	// Baseline marks the path the captures are compared with (polling):
	// reports set every other path against it.
	Baseline bool
	// Publishes says the path's change events go to the stack's Kafka,
	// where agents in other processes (`cdcbench agent`, agent commands)
	// read them too.
	Publishes bool
	// NeedsConnect says the path runs in Kafka Connect, which the stack
	// must then have.
	NeedsConnect bool
	// Processes are the stack's processes the path runs on beside the
	// database's and cdcbench's own, for its machine cost.
	Processes []Process
	// Harness says what cdcbench's own process does on the path, beside
	// its figures in the machine cost.
	Harness string
	// Setup is about how long the path takes from a fresh table to its
	// probe's round trip, for the estimate a sweep prints before it runs.
	Setup time.Duration
}

// Process is a process of the stack that a path runs on.
type Process struct {
	Name string // as the machine cost names it: "kafka broker"
	Role string // the stack's role: result.RoleBroker, result.RoleConnect
}

// kinds are the registered kinds by name.
var kinds = map[string]Kind{}

// Register adds a path kind. It panics on a kind without a name, paths,
// a driver or traits, and on a name taken: both are programming errors
// that every test run would find.
func Register(k Kind) {
	if k.Name == "" || (!k.Bare && k.Param == nil) || k.New == nil || k.Traits == nil || k.Syntax == "" {
		panic(fmt.Sprintf("driver: kind %q needs a name, paths, syntax, a driver and traits", k.Name))
	}
	if k.CheckSetting != nil && k.SettingsSyntax == "" {
		panic(fmt.Sprintf("driver: kind %q takes settings but does not say for which paths", k.Name))
	}
	if _, dup := kinds[k.Name]; dup {
		panic(fmt.Sprintf("driver: kind %q registered twice", k.Name))
	}
	kinds[k.Name] = k
}

// Kinds returns the registered kinds, by name.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Kind) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ErrPath reports a path name that no kind takes; its message lists the
// names the registered kinds take.
var ErrPath = errors.New("not a path name")

// pathError is ErrPath for one name: the names wanted, the name given and
// why a kind refused its parameter.
type pathError struct {
	name string
	why  error
}

func (e *pathError) Error() string {
	var want []string
	for _, k := range Kinds() {
		want = append(want, k.Syntax)
	}
	if n := len(want); n > 1 {
		want[n-1] = "or " + want[n-1]
	}
	s := fmt.Sprintf("want %s, got %q", strings.Join(want, ", "), e.name)
	if e.why != nil {
		s += ": " + e.why.Error()
	}
	return s
}

func (e *pathError) Unwrap() error { return ErrPath }

// Path is a parsed path name.
type Path struct {
	Kind string // the registered kind's name
	// Param is what follows "Kind-", canonically spelled: a polling
	// interval, a Debezium path's label; "" for a bare kind.
	Param string
}

// ParsePath parses a path name: a registered kind's name, or the name, a
// dash and a parameter the kind takes. Where kind names share a prefix
// the longest that fits decides.
func ParsePath(name string) (Path, error) {
	ks := Kinds()
	slices.SortFunc(ks, func(a, b Kind) int { return cmp.Compare(len(b.Name), len(a.Name)) })
	for _, k := range ks {
		if k.Bare && name == k.Name {
			return Path{Kind: k.Name}, nil
		}
		param, ok := strings.CutPrefix(name, k.Name+"-")
		if !ok || k.Param == nil {
			continue
		}
		canon, err := k.Param(param)
		if err != nil {
			return Path{}, &pathError{name: name, why: err}
		}
		return Path{Kind: k.Name, Param: canon}, nil
	}
	return Path{}, &pathError{name: name}
}

// String returns the canonical name: "cdc", "debezium-tuned", "poll-100ms".
func (p Path) String() string {
	if p.Param == "" {
		return p.Kind
	}
	return p.Kind + "-" + p.Param
}

// Ident is the path's name in [a-z0-9] alone, for the names of the
// database objects it creates: "debeziumtuned", "poll100ms".
func (p Path) Ident() string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p.String())
}

// kind returns p's registered kind.
func (p Path) kind() (Kind, error) {
	k, ok := kinds[p.Kind]
	if !ok {
		return Kind{}, fmt.Errorf("driver: no driver for path kind %q", p.Kind)
	}
	return k, nil
}

// New returns the driver for path p.
func New(p Path, cfg Config) (Driver, error) {
	k, err := p.kind()
	if err != nil {
		return nil, err
	}
	return k.New(p, cfg)
}

// TraitsOf returns the traits of path p on a run whose "cdc" path runs
// cdc (stack.CDCRelay or stack.CDCDebezium); the zero Traits for a path
// of no registered kind, which ParsePath never returns.
func TraitsOf(p Path, cdc string) Traits {
	k, err := p.kind()
	if err != nil {
		return Traits{}
	}
	return k.Traits(cdc)
}

// DefaultPaths are the paths a scenario runs when it names none: each
// kind's default, the kinds' in name order (the relay's cdc path and the
// polling baseline it is compared with).
func DefaultPaths() []string {
	var out []string
	for _, k := range Kinds() {
		if k.Default != "" {
			out = append(out, k.Default)
		}
	}
	return out
}

// TakesSettings says whether path p takes scenario settings: nil if its
// kind does, an error naming the paths that do if not.
func TakesSettings(p Path) error {
	k, err := p.kind()
	if err != nil || k.CheckSetting != nil {
		return err
	}
	var takers []string
	for _, k := range Kinds() {
		if k.CheckSetting != nil {
			takers = append(takers, k.SettingsSyntax)
		}
	}
	if n := len(takers); n >= 2 {
		takers = append(takers[:n-2:n-2], takers[n-2]+" and "+takers[n-1])
	}
	return fmt.Errorf("settings are for %s; %s has none", strings.Join(takers, ", "), p)
}

// CheckSetting checks one of path p's scenario settings offline, for a
// path that takes settings (TakesSettings); its error says what is wrong.
func CheckSetting(p Path, key, value string) error {
	k, err := p.kind()
	if err != nil {
		return err
	}
	if k.CheckSetting == nil {
		return TakesSettings(p)
	}
	return k.CheckSetting(key, value)
}
