package raftlog

import "github.com/ringlog/ringlog/mmaplog"

// SetSyncHook makes StoreLogs and DeleteRange flush through f, which gets the real flush.
func SetSyncHook(s *Store, f func(flush func() error) error) {
	if f == nil {
		s.hooks.sync = nil
		return
	}
	s.hooks.sync = func() error { return f(s.log.Sync) }
}

// SetRollbackHook runs f before a StoreLogs whose flush failed removes its entries; an
// error from f stands for a failed removal.
func SetRollbackHook(s *Store, f func() error) { s.hooks.rollback = f }

// Log returns the store's mmaplog handle.
func Log(s *Store) *mmaplog.Log { return s.log }

// EntryHeaderSize is the size of an entry's header.
const EntryHeaderSize = entryHeaderSize
