//go:build race

package cursortable

// cacheMine enables Entry's cache of its own last commit (see Entry.mineOK). The race
// detector does not see the happens-before edges of atomics on a file mapping (it
// tracks Go memory only), so it would flag the cache, which the entry's ctl word
// serializes: race builds validate the current copy on every commit instead, with the
// same results.
const cacheMine = false
