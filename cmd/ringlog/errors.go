package main

import (
	"errors"
	"fmt"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0 // success
	exitFailure = 1 // damage found, or the operation failed
	exitUsage   = 2 // bad usage, or a path that is not a ringlog directory
)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

// Error implements error.
func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// notLogError is a path that is not a ringlog directory: exit status 2.
type notLogError struct {
	path  string
	cause string
}

// Error implements error: the path and the cause.
func (e *notLogError) Error() string { return e.path + ": " + e.cause }

// damageError reports that a command found damage and listed it already: exit status 1.
type damageError struct{ msg string }

// Error implements error.
func (e *damageError) Error() string { return e.msg }

// exitCode maps a command's error to its exit status.
func exitCode(err error) int {
	var u *usageError
	var n *notLogError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u), errors.As(err, &n):
		return exitUsage
	}
	return exitFailure
}

// oneLine renders err as the single line printed after "ringlog CMD: ": the library's
// "mmaplog: " prefix is dropped (the line already says who speaks) and any newline is
// folded.
func oneLine(err error) string {
	s := strings.TrimPrefix(err.Error(), "mmaplog: ")
	return strings.ReplaceAll(s, "\n", "; ")
}
