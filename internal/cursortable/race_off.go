//go:build !race

package cursortable

// cacheMine enables Entry's cache of its own last commit (race_on.go says why race
// builds do without).
const cacheMine = true
