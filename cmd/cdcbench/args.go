package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/suggest"
)

// invocation is a command line resolved against the app before urfave/cli
// parses it.
type invocation struct {
	// args is the command line to hand to urfave/cli: "help X Y" turned
	// into "X Y --help", and the leaf command's flags moved ahead of its
	// positional arguments.
	args []string
	// path is the command path, e.g. ["stack", "up"]; empty for the app
	// itself.
	path []*cli.Command
}

// name is the command path as the user types it: "stack up".
func (inv invocation) name() string {
	names := make([]string, len(inv.path))
	for i, c := range inv.path {
		names[i] = c.Name
	}
	return strings.Join(names, " ")
}

// leaf is the command that runs, nil for the app.
func (inv invocation) leaf() *cli.Command {
	if len(inv.path) == 0 {
		return nil
	}
	return inv.path[len(inv.path)-1]
}

// resolve finds the command args names and reorders its flags.
//
// urfave/cli v2 stops parsing flags at the first positional argument, so
// `report DIR -o X` would take "-o" and "X" for directories, and users put
// flags after arguments all the time. resolve moves every flag of the leaf
// command (with its value, for flags that take one) ahead of the positional
// arguments, keeping both in order; after "--" everything is positional.
// Unknown commands are usage errors here, with the nearest name, instead
// of urfave/cli's help page or its "No help topic" and exit 3.
func resolve(app *cli.App, args []string) (invocation, error) {
	inv := invocation{args: args}
	if len(args) < 2 {
		return inv, nil
	}
	rest := args[1:]
	// Flags of the app itself (--help, --version) come first and end the
	// walk: there is no command to resolve.
	if strings.HasPrefix(rest[0], "-") {
		return inv, nil
	}
	if isHelp(rest[0]) {
		if len(rest) == 1 {
			return inv, nil // the app's own help
		}
		// "help stack up" is "stack up --help": urfave/cli's help command
		// shows only the first name's help, without its subcommands.
		return resolve(app, append(append([]string{args[0]}, rest[1:]...), "--help"))
	}
	cmds := app.Commands
	i := 0
	for {
		name := rest[i]
		cmd := findCommand(cmds, name)
		if cmd == nil {
			var names []string
			for _, c := range cmds {
				names = append(names, c.Names()...)
			}
			err := fmt.Errorf("unknown command %q%s", name, didYouMean(name, names, ""))
			if len(inv.path) > 0 {
				err = fmt.Errorf("%s: %w", inv.name(), err)
			}
			return inv, usageError{err}
		}
		inv.path = append(inv.path, cmd)
		i++
		if len(cmd.Subcommands) == 0 {
			break
		}
		// A command with subcommands (stack, scenarios) takes no
		// arguments of its own: the next word must be a subcommand, or
		// help, or there is none.
		j := i
		for j < len(rest) && strings.HasPrefix(rest[j], "-") {
			j++
		}
		if j == len(rest) {
			return inv, nil
		}
		if isHelp(rest[j]) {
			out := append(append([]string{}, args[:1+j]...), rest[j+1:]...)
			return resolve(app, append(out, "--help"))
		}
		cmds = cmd.Subcommands
		i = j
	}
	leaf := inv.leaf()
	flags, positional, unknown := splitFlags(leaf.Flags, rest[i:])
	// urfave/cli hands arguments to an action that takes none, which
	// ignores them: `run burst` ran the default scenario, smoke, without a
	// word. After an unknown flag, whose value looks like an argument,
	// parsing reports the flag instead.
	if args := slices.DeleteFunc(slices.Clone(positional), func(a string) bool { return a == "--" }); leaf.ArgsUsage == "" && !unknown && len(args) > 0 && !isHelp(args[0]) {
		hint := ""
		if leaf.Name == "run" {
			hint = fmt.Sprintf("; the scenario is --scenario %s", args[0])
		}
		return inv, usageError{fmt.Errorf("%s takes no arguments, got %q%s", inv.name(), strings.Join(args, " "), hint)}
	}
	out := append([]string{}, args[:1+i]...)
	out = append(out, flags...)
	inv.args = append(out, positional...)
	return inv, nil
}

func isHelp(s string) bool { return s == "help" || s == "h" }

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// didYouMean is `; did you mean "run"?` for the name nearest to typed, or
// "" when none is near, by the rule scenario fields and connector settings
// use (suggest.Closest). urfave/cli's own suggestion always names one, and
// "--foo; did you mean --allow-foreign-baseline?" misleads more than it
// helps.
func didYouMean(typed string, names []string, prefix string) string {
	best := suggest.Closest(typed, names)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", prefix+best)
}

// splitFlags separates the flags of a command line (each with its value
// when the flag takes one and is not written --flag=value) from its
// positional arguments. A "--" keeps its place before the positional
// arguments, so that urfave/cli takes everything after it literally; "-"
// alone (standard input) is positional. An unknown flag is kept as a flag,
// so that parsing reports it, and reported as unknown.
func splitFlags(known []cli.Flag, args []string) (flags, positional []string, unknown bool) {
	takesValue := map[string]bool{}
	for _, f := range append(append([]cli.Flag{}, known...), cli.HelpFlag) {
		dg, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			takesValue[n] = ok && dg.TakesValue()
		}
	}
	var dashdash bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			dashdash = true
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			value, ok := takesValue[name]
			unknown = unknown || !ok
			if !strings.Contains(a, "=") && value && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	if dashdash {
		positional = append([]string{"--"}, positional...)
	}
	return flags, positional, unknown
}

// goFlag matches a flag as Go's flag package names it in its errors:
// "-bach-size".
var goFlag = regexp.MustCompile(`(^|\s)-([a-zA-Z][a-zA-Z0-9-]+)`)

// flagUsageError turns urfave/cli's parse error into one line with the
// nearest flag: `unknown flag --bach-size; did you mean --batch-size?`
// instead of the error followed by the whole help page.
func flagUsageError(c *cli.Context, err error) error {
	msg := err.Error()
	var flags []cli.Flag
	if c.Command != nil {
		flags = c.Command.Flags
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		for _, f := range flags {
			names = append(names, f.Names()...)
		}
		msg = fmt.Sprintf("unknown flag --%s%s", name, didYouMean(name, names, "--"))
	} else {
		msg = goFlag.ReplaceAllString(msg, "$1--$2")
	}
	return usageError{fmt.Errorf("%s", msg)}
}
