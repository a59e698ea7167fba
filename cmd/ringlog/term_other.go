//go:build !linux

package main

import "os"

// isTerminal reports false off Linux: progress is shown as plain lines there.
func isTerminal(*os.File) bool { return false }

// terminalWidth is unknown off Linux.
func terminalWidth(*os.File) int { return 0 }
