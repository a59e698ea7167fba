package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// The stable file ("stable" in the store's directory) holds every StableStore pair. Set
// writes a whole new file to "stable.tmp", fdatasyncs it, renames it over "stable" and
// fsyncs the directory, so a crash leaves the old file or the new one, never a mix.
// docs/FORMAT.md section 12. Version 1, little-endian. Must not change:
//
//	offset size field
//	0      8    magic     "RLRAFTST"
//	8      4    version   stableVersion (1)
//	12     4    checksum  CRC-32C (Castagnoli) of bytes [16, end of file)
//	16     4    bodyLen   bytes after the header (the file is 24 + bodyLen bytes)
//	20     4    count     number of pairs
//	24     ...  pairs     count × { keyLen u32, valLen u32, key, value }, keys sorted
//	                      bytewise and unique
const (
	stableMagic      = "RLRAFTST" // must not change
	stableVersion    = 1          // must not change
	stableHeaderSize = 24         // must not change

	offStableMagic    = 0
	offStableVersion  = 8
	offStableChecksum = 12
	offStableBodyLen  = 16
	offStableCount    = 20

	stableFileName = "stable"
	stableTmpName  = "stable.tmp"
)

// MaxStableSize is the largest stable file: Set fails with ErrTooLarge beyond it. raft
// keeps three small values there.
const MaxStableSize = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stableStore is the in-memory copy of the stable file, written through on every Set.
type stableStore struct {
	dir      string
	path     string
	fileMode fs.FileMode

	mu    sync.Mutex                        // serializes set
	pairs atomic.Pointer[map[string][]byte] // the pairs of the current file, never modified
	size  int                               // size of the current file; guarded by mu
}

// loadStable reads and validates the stable file of dir.
func loadStable(dir string, mode fs.FileMode) (*stableStore, error) {
	s := &stableStore{dir: dir, path: filepath.Join(dir, stableFileName), fileMode: mode}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("raftlog: read stable file: %w", err)
	}
	pairs, err := decodeStable(s.path, b)
	if err != nil {
		return nil, err
	}
	s.pairs.Store(&pairs)
	s.size = len(b)
	return s, nil
}

// createStable writes an empty stable file into dir (durably) and returns its store.
func createStable(dir string, mode fs.FileMode) (*stableStore, error) {
	s := &stableStore{dir: dir, path: filepath.Join(dir, stableFileName), fileMode: mode}
	pairs := map[string][]byte{}
	b := encodeStable(pairs)
	if err := s.replace(b); err != nil {
		return nil, err
	}
	s.pairs.Store(&pairs)
	s.size = len(b)
	return s, nil
}

// get returns a copy of key's value, or nil when key is not set. It takes no lock.
func (s *stableStore) get(key []byte) []byte {
	v, ok := (*s.pairs.Load())[string(key)]
	if !ok {
		return nil
	}
	return bytes.Clone(v)
}

// set stores key = val durably: it returns once a new stable file holding the pair is on
// disk. On error the stored pairs are as before (the file, too, unless the error came after
// the rename, from the directory's fsync).
func (s *stableStore) set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.pairs.Load()
	old, had := cur[string(key)]
	size := s.size + 8 + len(key) + len(val)
	if had {
		size -= 8 + len(key) + len(old)
	}
	if size > MaxStableSize {
		return fmt.Errorf("%w: stable file would be %d bytes (max %d)", ErrTooLarge, size, MaxStableSize)
	}
	next := make(map[string][]byte, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[string(key)] = bytes.Clone(val)
	b := encodeStable(next)
	if err := s.replace(b); err != nil {
		if errors.Is(err, errAfterRename) {
			s.pairs.Store(&next)
			s.size = len(b)
		}
		return err
	}
	s.pairs.Store(&next)
	s.size = len(b)
	return nil
}

// errAfterRename marks a replace error that happened once the new file was in place.
var errAfterRename = errors.New("after rename")

// replace writes b as the new stable file: stable.tmp, fdatasync, rename, directory fsync.
func (s *stableStore) replace(b []byte) error {
	tmp := filepath.Join(s.dir, stableTmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, s.fileMode)
	if err != nil {
		return fmt.Errorf("raftlog: write stable file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("raftlog: write stable file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("raftlog: write stable file: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("raftlog: write stable file: %w: %w", errAfterRename, err)
	}
	return nil
}

// syncDir fsyncs a directory, making the names created or renamed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// encodeStable encodes pairs as a stable file.
func encodeStable(pairs map[string][]byte) []byte {
	keys := make([]string, 0, len(pairs))
	body := 0
	for k, v := range pairs {
		keys = append(keys, k)
		body += 8 + len(k) + len(v)
	}
	slices.Sort(keys)
	b := make([]byte, stableHeaderSize, stableHeaderSize+body)
	copy(b[offStableMagic:], stableMagic)
	binary.LittleEndian.PutUint32(b[offStableVersion:], stableVersion)
	binary.LittleEndian.PutUint32(b[offStableBodyLen:], uint32(body))
	binary.LittleEndian.PutUint32(b[offStableCount:], uint32(len(keys)))
	for _, k := range keys {
		v := pairs[k]
		b = binary.LittleEndian.AppendUint32(b, uint32(len(k)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, k...)
		b = append(b, v...)
	}
	binary.LittleEndian.PutUint32(b[offStableChecksum:], crc32.Checksum(b[offStableBodyLen:], castagnoli))
	return b
}

// decodeStable validates a stable file and returns its pairs. Every failure is a
// *CorruptError with the offset of the field that failed.
func decodeStable(path string, b []byte) (map[string][]byte, error) {
	fail := func(off int, what string, err error) error {
		return &CorruptError{Path: path, Offset: int64(off), What: what, Err: err}
	}
	if len(b) < stableHeaderSize {
		return nil, fail(len(b), fmt.Sprintf("stable file truncated (%d bytes, header is %d)", len(b), stableHeaderSize), ErrCorrupt)
	}
	if string(b[offStableMagic:offStableMagic+len(stableMagic)]) != stableMagic {
		return nil, fail(offStableMagic, "magic (not a raftlog stable file)", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[offStableVersion:]); v != stableVersion {
		return nil, fail(offStableVersion, fmt.Sprintf("version %d", v), ErrVersion)
	}
	if n := binary.LittleEndian.Uint32(b[offStableBodyLen:]); uint64(n) != uint64(len(b)-stableHeaderSize) {
		return nil, fail(offStableBodyLen, fmt.Sprintf("body length %d, file has %d bytes after the header", n, len(b)-stableHeaderSize), ErrCorrupt)
	}
	if got, want := crc32.Checksum(b[offStableBodyLen:], castagnoli), binary.LittleEndian.Uint32(b[offStableChecksum:]); got != want {
		return nil, fail(offStableChecksum, fmt.Sprintf("checksum %#08x, stored %#08x", got, want), ErrCorrupt)
	}
	count := binary.LittleEndian.Uint32(b[offStableCount:])
	pairs := make(map[string][]byte, min(count, 1024))
	off := stableHeaderSize
	var prev string
	for i := range count {
		if len(b)-off < 8 {
			return nil, fail(off, fmt.Sprintf("pair %d header past the end", i), ErrCorrupt)
		}
		kl := uint64(binary.LittleEndian.Uint32(b[off:]))
		vl := uint64(binary.LittleEndian.Uint32(b[off+4:]))
		if kl+vl > uint64(len(b)-off-8) {
			return nil, fail(off, fmt.Sprintf("pair %d lengths past the end", i), ErrCorrupt)
		}
		k := string(b[off+8 : off+8+int(kl)])
		if i > 0 && k <= prev {
			return nil, fail(off, fmt.Sprintf("pair %d key out of order", i), ErrCorrupt)
		}
		pairs[k] = bytes.Clone(b[off+8+int(kl) : off+8+int(kl+vl)])
		prev = k
		off += 8 + int(kl+vl)
	}
	if off != len(b) {
		return nil, fail(off, "bytes after the last pair", ErrCorrupt)
	}
	return pairs, nil
}
