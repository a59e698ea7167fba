package main

import (
	"bufio"
	"io"
	"os"
)

// env is what a command runs with: its standard streams. Output to stdout is buffered
// (flush writes it out); stderr is not.
type env struct {
	stdin     io.Reader
	stdout    *bufio.Writer
	stderr    io.Writer
	stdoutTTY bool // stdout is a terminal
	stderrTTY bool // stderr is a terminal
	stderrCol int  // stderr's width in columns (0 when unknown)
	stdoutCol int  // stdout's width in columns (0 when unknown)
}

// newEnv is the environment of the process: its own standard streams.
func newEnv() *env {
	return &env{
		stdin:     os.Stdin,
		stdout:    bufio.NewWriterSize(os.Stdout, 64<<10),
		stderr:    os.Stderr,
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		stdoutCol: terminalWidth(os.Stdout),
		stderrCol: terminalWidth(os.Stderr),
	}
}

// flush writes out buffered stdout.
func (e *env) flush() { _ = e.stdout.Flush() }
