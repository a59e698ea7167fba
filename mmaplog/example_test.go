package mmaplog_test

import (
	"fmt"
	"log"
	"os"

	"github.com/ringlog/ringlog/mmaplog"
)

func Example() {
	dir, err := os.MkdirTemp("", "ringlog-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := mmaplog.Open(dir, nil) // nil: default options
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	// The caller allocates ids: the first one of an empty log may be any id >= NextEventID.
	if err := l.AppendWithID(0, []byte("created")); err != nil {
		log.Fatal(err)
	}
	// Or the log allocates them under its write lock.
	id, err := l.Append([]byte("renamed"))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := l.Get(id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get %d: %s\n", id, ev)

	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		log.Fatal(err)
	}
	for id, ev := range it.All() {
		fmt.Printf("%d: %s\n", id, ev)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// get 1: renamed
	// 0: created
	// 1: renamed
}
