//go:build linux

package mmaplog

import (
	"os"
	"strings"
)

// currentBootID returns the kernel's random id of this boot (16 bytes of its text form),
// or nil if it cannot be read.
func currentBootID() []byte {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil
	}
	id := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if len(id) < 32 {
		return nil
	}
	out := make([]byte, 16)
	for i := range out {
		out[i] = hexNibble(id[2*i])<<4 | hexNibble(id[2*i+1])
	}
	return out
}

func hexNibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}
