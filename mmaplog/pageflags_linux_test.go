package mmaplog

import (
	"encoding/binary"
	"os"
	"testing"
	"unsafe"
)

// Page flags of /proc/kpageflags (linux/kernel-page-flags.h) that the tests read.
const (
	kpfDirty        = 1 << 4
	kpfCompoundHead = 1 << 15
	kpfCompoundTail = 1 << 16
)

// countPageFlags counts the pages of mapping b (page-aligned) that are present and whose
// page frame has any of flags set (from /proc/self/pagemap and /proc/kpageflags), and
// the present pages it checked. It skips t where page frames cannot be read (not root).
func countPageFlags(t *testing.T, b []byte, flags uint64) (set, checked int) {
	t.Helper()
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("pagemap: %v", err)
	}
	defer pagemap.Close()
	kflags, err := os.Open("/proc/kpageflags")
	if err != nil {
		t.Skipf("kpageflags: %v", err)
	}
	defer kflags.Close()
	const page = 4096
	base := uintptr(unsafe.Pointer(&b[0]))
	entries := make([]byte, 8*(len(b)/page))
	if _, err := pagemap.ReadAt(entries, int64(base/page*8)); err != nil {
		t.Skipf("pagemap: %v", err)
	}
	var word [8]byte
	for i := 0; i < len(entries); i += 8 {
		e := binary.LittleEndian.Uint64(entries[i:])
		pfn := e & (1<<55 - 1)
		if e&(1<<63) == 0 || pfn == 0 { // not present, or frames hidden from this user
			continue
		}
		if _, err := kflags.ReadAt(word[:], int64(pfn*8)); err != nil {
			t.Skipf("kpageflags: %v", err)
		}
		checked++
		if binary.LittleEndian.Uint64(word[:])&flags != 0 {
			set++
		}
	}
	return set, checked
}
