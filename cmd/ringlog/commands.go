package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand: its help text, its flags and what it does.
type command struct {
	name    string
	args    string // the synopsis after the name, e.g. "DIR [--json]"
	summary string // one line for the overview
	detail  string // what it does, for its --help
	example string // at least one command line with what it prints
	minArgs int    // positional arguments
	maxArgs int
	flags   *flag.FlagSet
	run     func(e *env, args []string) error
}

// newCommand returns a command with an empty flag set of its own.
func newCommand(name, args, summary string, minArgs, maxArgs int) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported as one line by execute
	return &command{name: name, args: args, summary: summary, minArgs: minArgs, maxArgs: maxArgs, flags: fs}
}

// commands returns every subcommand, in the order of the overview. Each call builds them
// afresh, so their flag values start at the defaults.
func commands() []*command {
	return []*command{
		statCommand(), dumpCommand(), getCommand(), tailCommand(), appendCommand(),
		checkCommand(), deleteCommand(), backupCommand(), benchCommand(), demoCommand(),
		cursorsCommand(),
	}
}

// lookup returns the subcommand called name, or nil.
func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// overview is the text of "ringlog help".
func overview() string {
	var b strings.Builder
	b.WriteString("ringlog looks into and works on ringlog directories (github.com/ringlog/ringlog).\n\n")
	b.WriteString("usage: ringlog COMMAND [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-7s %s\n", c.name, c.summary)
	}
	b.WriteString(`
"ringlog help COMMAND" or "ringlog COMMAND --help" shows one command with an example.
Read commands (stat, dump, get, tail, check, cursors) open the log read-only: no lock, no repair.
Exit status: 0 success; 1 damage found or the operation failed; 2 bad usage, or a path
that is not a ringlog directory.
Install: go install github.com/ringlog/ringlog/cmd/ringlog@latest
`)
	return b.String()
}

// help is the text of "ringlog NAME --help".
func (c *command) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: ringlog %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.detail != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.detail))
	}
	first := true
	c.flags.VisitAll(func(f *flag.Flag) {
		if first {
			b.WriteString("\nflags:\n")
			first = false
		}
		typ, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if typ != "" {
			name += " " + typ
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(&b, "  %-20s %s%s\n", name, usage, def)
	})
	fmt.Fprintf(&b, "\nexample:\n%s\n", indent(strings.TrimSpace(c.example), "  "))
	return b.String()
}

// indent prefixes every line of s with p.
func indent(s, p string) string {
	return p + strings.ReplaceAll(s, "\n", "\n"+p)
}

// execute parses args, runs the command and reports its error as one line on stderr. It
// returns the exit status.
func (c *command) execute(e *env, args []string) int {
	pos, err := parseArgs(c.flags, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, c.help())
		return exitOK
	}
	if err != nil {
		err = usagef("%v", err)
	} else if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		err = usagef("want %s, got %d arguments", c.args, len(pos))
	}
	if err == nil {
		err = c.run(e, pos)
	}
	if err != nil {
		e.flush()
		var u *usageError
		if errors.As(err, &u) {
			fmt.Fprintf(e.stderr, "ringlog %s: %s (see ringlog %s --help)\n", c.name, u.msg, c.name)
		} else {
			fmt.Fprintf(e.stderr, "ringlog %s: %s\n", c.name, oneLine(err))
		}
	}
	return exitCode(err)
}

// parseArgs parses flags anywhere among the positional arguments ("dump DIR --format
// json" as well as "dump --format json DIR"); after "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}
