//go:build linux

package mmaplog

import (
	"errors"
	"testing"
)

func TestCheckLocalFS(t *testing.T) {
	if err := checkLocalFS(t.TempDir()); err != nil {
		t.Fatalf("local temp dir refused: %v", err)
	}
	if err := checkLocalFS("/nonexistent/dir"); err == nil {
		t.Fatal("statfs of a missing dir did not fail")
	}
	// Every network type in the table is refused with ErrUnsupportedFS.
	for magic, name := range networkFS {
		err := refuseType(magic, "/x")
		if !errors.Is(err, ErrUnsupportedFS) {
			t.Fatalf("%s (%#x): %v", name, magic, err)
		}
	}
	if err := refuseType(0xEF53, "/x"); err != nil { // ext4
		t.Fatalf("ext4 refused: %v", err)
	}
}
