// Package testbin builds a main package of this module into a temporary directory, so
// that tests run the program as a real process (its stdout, stderr and exit status),
// as a user would. It is for tests only.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the main package pkg (an import path or a relative path such as ".")
// into a new temporary directory and returns the binary's path and a function that
// removes the directory. When the calling test binary was built with the race detector,
// so is the program, and Build adds atexit_sleep_ms=0 to GORACE in this process's
// environment, which the programs the tests start inherit: otherwise every run of a
// race-built program sleeps a second before it exits.
func Build(pkg, name string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "ringlog-testbin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, name)
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
		if err := os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testbin: the go command is needed to build %s: %w", pkg, err)
	}
	cmd := exec.Command(goTool, append(args, pkg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testbin: go %s: %v\n%s", strings.Join(append(args, pkg), " "), err, out)
	}
	// Readable and executable by everyone: tests may run it as another user.
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}
