package ringindex_test

import (
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

const benchCap = 1 << 20 // 1M slots, 8 MiB

// benchIDs returns random ids, a power of two of them, so the loop indexes
// them with a mask.
func benchIDs() []uint64 {
	rng := rand.New(rand.NewSource(1))
	ids := make([]uint64, 1<<16)
	for i := range ids {
		ids[i] = rng.Uint64()
	}
	return ids
}

var sink uint64

func BenchmarkLoad(b *testing.B) {
	x, _ := create(b, benchCap)
	ids := benchIDs()
	for id := uint64(0); id < benchCap; id++ {
		x.Store(id, ringindex.MakeSlot(1, id*8+8))
	}
	b.ReportAllocs()
	b.SetBytes(ringindex.SlotSize)
	var acc uint64
	i := 0
	for b.Loop() {
		acc += uint64(x.Load(ids[i&(len(ids)-1)]))
		i++
	}
	sink = acc
}

func BenchmarkStore(b *testing.B) {
	x, _ := create(b, benchCap)
	if err := x.Advise(true); err != nil {
		b.Fatal(err)
	}
	ids := benchIDs()
	b.ReportAllocs()
	b.SetBytes(ringindex.SlotSize)
	i := 0
	for b.Loop() {
		id := ids[i&(len(ids)-1)]
		x.Store(id, ringindex.Slot(id|1))
		i++
	}
}

// BenchmarkSliceLoad is the baseline: atomic loads from a plain heap slice of
// the same size with the same ids.
func BenchmarkSliceLoad(b *testing.B) {
	s := make([]uint64, benchCap)
	for i := range s {
		s[i] = uint64(i)
	}
	ids := benchIDs()
	b.ReportAllocs()
	b.SetBytes(ringindex.SlotSize)
	var acc uint64
	i := 0
	for b.Loop() {
		acc += atomic.LoadUint64(&s[ids[i&(len(ids)-1)]&(benchCap-1)])
		i++
	}
	sink = acc
}

// BenchmarkSliceStore is the baseline for BenchmarkStore.
func BenchmarkSliceStore(b *testing.B) {
	s := make([]uint64, benchCap)
	ids := benchIDs()
	b.ReportAllocs()
	b.SetBytes(ringindex.SlotSize)
	i := 0
	for b.Loop() {
		id := ids[i&(len(ids)-1)]
		atomic.StoreUint64(&s[id&(benchCap-1)], id|1)
		i++
	}
}
