package main

import (
	"fmt"
	"os"
)

// roleEnv, set in the environment of a process the demo starts, names the hidden role
// the same binary runs instead of the command line (demo-writer, demo-follower).
const roleEnv = "RINGLOG_ROLE"

// runRole runs the role named by roleEnv with args and returns the exit status.
func runRole(args []string) int {
	var err error
	switch role := os.Getenv(roleEnv); role {
	case "demo-writer":
		err = runDemoWriter(args)
	case "demo-follower":
		err = runDemoFollower(args)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringlog %s: %v\n", os.Getenv(roleEnv), err)
		return exitFailure
	}
	return exitOK
}
