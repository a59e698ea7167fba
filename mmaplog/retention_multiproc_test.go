package mmaplog_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func init() {
	childRoles["rt-append"] = childRetentionAppend
	childRoles["rt-read"] = childRetentionRead
}

// childRetentionAppend appends events that encode their ids (rtEvent) with
// AppendBatchWithIDs at NextEventID, retrying when another writer took the id, until
// TOTAL events exist. It opens the log without a policy: the stored one applies.
func childRetentionAppend() int {
	total := uint64(envInt(envTotal))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), uint64(childIndex())))
	l, err := mmaplog.Open(os.Getenv(envDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	if st, err := l.Stats(); err != nil || st.Retention.MaxBytes == 0 {
		return childFail("stored policy not in force: %+v, %v", st.Retention, err)
	}
	appended, lost := 0, 0
	for {
		id, err := l.NextEventID()
		if err != nil {
			return childFail("next: %v", err)
		}
		if id >= total {
			break
		}
		evs := make([][]byte, 1+rng.IntN(8))
		for i := range evs {
			evs[i] = rtEvent(id + uint64(i))
		}
		err = l.AppendBatchWithIDs(id, evs)
		if errors.Is(err, mmaplog.ErrOutOfOrder) {
			lost++
			continue
		}
		if err != nil {
			return childFail("append %d: %v", id, err)
		}
		appended += len(evs)
		if err := rtReadOne(l, id); err != nil {
			return childFail("read back: %v", err)
		}
	}
	fmt.Printf("writer %d: %d events, %d ids taken by others first\n", childIndex(), appended, lost)
	return 0
}

// rtReadOne reads id: its exact bytes, or ErrNotFound only if retention has passed it.
func rtReadOne(l *mmaplog.Log, id uint64) error {
	b, err := l.Get(id)
	if errors.Is(err, mmaplog.ErrNotFound) {
		o, oerr := l.OldestEventID()
		if oerr == nil && o <= id {
			return fmt.Errorf("Get(%d): not found, but oldest is %d", id, o)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Get(%d): %w", id, err)
	}
	if err := rtCheckID(b, id); err != nil {
		return fmt.Errorf("Get(%d): %w", id, err)
	}
	return nil
}

// childRetentionRead reads until TOTAL events exist.
func childRetentionRead() int {
	total := uint64(envInt(envTotal))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), 100+uint64(childIndex())))
	l, err := mmaplog.Open(os.Getenv(envDir), &mmaplog.Options{ReadOnly: true})
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	reads, iterated, err := readUntilTotal(l, total, func() (int, error) { return readOnceTrimmed(l, rng, rtCheckID) })
	if err != nil {
		return childFail("%v", err)
	}
	fmt.Printf("reader %d: %d rounds, %d iterated events\n", childIndex(), reads, iterated)
	return 0
}

// TestRetentionMultiProcess: 4 writer processes append through many segment turnovers
// under a MaxBytes policy they find stored in the log, while 2 reader processes Get and
// iterate. The parent samples the directory: it never holds more than MaxBytes + 2
// segments. Readers see exact bytes or ErrNotFound for removed ids, nothing else. At the
// end the log and a power-loss image of it check clean. RINGLOG_LONG=1: 1,000 turnovers.
func TestRetentionMultiProcess(t *testing.T) {
	const keep, writers, readers = 4, 4, 2
	turnovers := 50
	if os.Getenv("RINGLOG_LONG") != "" {
		turnovers = 1000
	}
	total := turnovers * 60 // about 58 events fill a 16 KiB segment
	s := seed(t)
	dir := t.TempDir()
	l := rtOpen(t, dir, mmaplog.Retention{MaxBytes: keep * rtSeg})
	env := []string{
		envDir + "=" + dir,
		envSeed + "=" + strconv.FormatInt(s&0x7fffffff, 10),
		envTotal + "=" + strconv.Itoa(total),
	}
	start := time.Now()
	rd := startChildren(t, "rt-read", readers, env...)
	wr := startChildren(t, "rt-append", writers, env...)
	maxFiles, samples := 0, 0
	for {
		n := segFiles(t, dir)
		samples++
		if n > maxFiles {
			maxFiles = n
			if n > keep+2 {
				ents, _ := os.ReadDir(dir)
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("%d segment files, MaxBytes is %d segments (+2 allowed): %v", n, keep, names)
			}
		}
		next, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if next >= uint64(total) || anyFailed(rd, wr) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("only %d of %d events after 2 minutes", next, total)
		}
		time.Sleep(500 * time.Microsecond)
	}
	waitChildren(t, wr)
	elapsed := time.Since(start)
	waitChildren(t, rd)
	st := rtCheckLive(t, l)
	t.Logf("%d writer processes, %d events, %d turnovers in %v; %d directory samples, at most %d segment files (MaxBytes %d segments); retention removed %d segments, %d events, %d bytes",
		writers, st.NextEventID, st.ActiveSegment, elapsed.Round(time.Millisecond), samples, maxFiles, keep,
		st.RetentionRemovedSegments, st.RetentionRemovedEvents, st.RetentionReclaimedBytes)
	if st.ActiveSegment < uint64(turnovers)*9/10 || st.RetentionRemovedSegments+keep < st.ActiveSegment {
		t.Fatalf("stats %+v: want about %d turnovers, all but %d segments removed", st, turnovers, keep)
	}
	if st.RetentionRemovedEvents != st.OldestEventID {
		t.Fatalf("retention counted %d removed events, oldest is %d", st.RetentionRemovedEvents, st.OldestEventID)
	}
	rep, err := l.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	rtCheckCrashImage(t, dir, st)
}
