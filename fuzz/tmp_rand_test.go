package fuzz

import (
	"math/rand/v2"
	"testing"
	"fmt"
	"os"
)

func TestTmpRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		n := rng.IntN(600)
		b := make([]byte, n)
		for j := range b { b[j] = byte(rng.Uint32()) }
		os.WriteFile("/tmp/fuzz-last-input", b, 0o644)
		ok := t.Run(fmt.Sprint(i), func(t *testing.T) { runProgram(t, b, 1+i%2) })
		if !ok { t.Fatalf("input %d", i) }
	}
}
