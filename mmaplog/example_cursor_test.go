package mmaplog_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ringlog/ringlog/mmaplog"
)

// A named cursor is a consumer position stored in the log directory: a consumer that
// restarts, in this process or another, resumes where the last Commit left it.
func ExampleLog_Cursor() {
	l, dir, cleanup := tempLog(nil)
	defer cleanup()
	for _, s := range []string{"a", "b", "c", "d"} {
		if _, err := l.Append([]byte(s)); err != nil {
			log.Fatal(err)
		}
	}

	// consume reads up to n events through the cursor "billing" of its own handle (a
	// separate process in real use), committing each one once it is processed.
	consume := func(n int) {
		h, err := mmaplog.Open(dir, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer h.Close()
		c, err := h.Cursor("billing") // created on first use, at the oldest event
		if err != nil {
			log.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		it := c.Follow(ctx) // from the committed position; blocks at the tail
		defer it.Close()
		for it.Next() {
			fmt.Printf("%d: %s\n", it.ID(), it.Value())
			if err := c.Commit(it.ID() + 1); err != nil { // everything below ID+1 is done
				log.Fatal(err)
			}
			if n--; n == 0 {
				return
			}
		}
	}
	consume(3) // reads 0, 1, 2 and stops
	consume(1) // a new consumer resumes at 3

	list, err := l.Cursors()
	if err != nil {
		log.Fatal(err)
	}
	for _, ci := range list {
		fmt.Printf("%s at %d, lag %d\n", ci.Name, ci.Position, ci.Lag)
	}
	// Output:
	// 0: a
	// 1: b
	// 2: c
	// 3: d
	// billing at 4, lag 0
}
