package main

import (
	"fmt"
	"os"
)

// main runs a hidden role when the demo started this process for one, the command line otherwise.
func main() {
	if os.Getenv(roleEnv) != "" {
		os.Exit(runRole(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:], newEnv()))
}

// run executes the command line args (without the program name) and returns the exit
// status. It never lets a panic escape as a stack trace.
func run(args []string, e *env) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(e.stderr, "ringlog: internal error: %v\n", r)
			code = exitFailure
		}
		e.flush()
	}()
	if len(args) == 0 {
		fmt.Fprint(e.stderr, overview())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				fmt.Fprint(e.stdout, c.help())
				return exitOK
			}
			fmt.Fprintf(e.stderr, "ringlog help: unknown command %q (see ringlog help)\n", args[1])
			return exitUsage
		}
		fmt.Fprint(e.stdout, overview())
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "ringlog: unknown command %q (see ringlog help)\n", name)
		return exitUsage
	}
	return c.execute(e, args[1:])
}
