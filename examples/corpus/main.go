// Command corpus is the README's fuzz-corpus sharing, as a program: several worker
// processes of a toy fuzzer share the inputs they find through one ringlog directory.
//
// Each worker mutates inputs from its corpus and keeps (and shares) an input that covers
// a feature nobody has reported yet. It shares an input with Append (the id is allocated
// under the log's write lock, across processes) with its own number in the first byte,
// and reads what the others found with IterRange from the last id it has seen. At the
// end the parent checks that every worker received every input the others shared, and
// that the log holds exactly the inputs the workers say they found.
//
//	go run ./examples/corpus -workers 4 -duration 2s
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// workerEnv carries a worker's number to the process that runs it.
const workerEnv = "CORPUS_WORKER"

// main runs a worker when the parent started this process as one, the parent otherwise.
func main() {
	if w := os.Getenv(workerEnv); w != "" {
		n, _ := strconv.Atoi(w)
		if err := runWorker(os.Args[1], byte(n)); err != nil {
			fmt.Fprintf(os.Stderr, "corpus: worker %d: %v\n", n, err)
			os.Exit(1)
		}
		return
	}
	workers := flag.Int("workers", 4, "worker processes")
	dur := flag.Duration("duration", 2*time.Second, "how long the workers fuzz")
	dir := flag.String("dir", "", "the shared corpus directory (default: a new temporary one, removed at the end)")
	flag.Parse()
	if err := runParent(*dir, *workers, *dur); err != nil {
		fmt.Fprintf(os.Stderr, "corpus: %v\n", err)
		os.Exit(1)
	}
}

// features returns the toy coverage of an input: the byte pairs it contains, folded
// into 4096 features, of which an input covers at most 8 new ones per mutation.
func features(input []byte) []uint16 {
	var fs []uint16
	for i := 0; i+1 < len(input); i++ {
		h := fnv.New32a()
		h.Write(input[i : i+2])
		fs = append(fs, uint16(h.Sum32()%4096))
	}
	return fs
}

// runWorker is one worker: the README's share and poll, around a mutation loop. It
// fuzzes until "stop" on stdin, reports "stopped", does a last poll on "final", and
// prints "worker W found F received R features X".
func runWorker(dir string, worker byte) error {
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return err
	}
	defer l.Close()

	// share publishes an input this worker found: the first byte names the finder.
	share := func(input []byte) error {
		_, err := l.Append(append([]byte{worker}, input...))
		return err
	}
	// poll returns the inputs the other workers appended since the last call.
	var seen mmaplog.EventID // the next id to read
	poll := func() ([][]byte, error) {
		it, err := l.IterRange(seen, mmaplog.Latest)
		if err != nil {
			return nil, err
		}
		var found [][]byte
		for id, v := range it.All() { // v aliases the mapping: copy what you keep
			seen = id + 1
			if v[0] != worker {
				found = append(found, bytes.Clone(v[1:]))
			}
		}
		return found, it.Err()
	}

	known := map[uint16]bool{}
	corpus := [][]byte{[]byte("seed")}
	learn := func(input []byte) bool {
		fresh := false
		for _, f := range features(input) {
			if !known[f] {
				known[f], fresh = true, true
			}
		}
		return fresh
	}
	learn(corpus[0])
	var found, received int
	receive := func() error {
		in, err := poll()
		for _, input := range in {
			learn(input)
			corpus = append(corpus, input)
			received++
		}
		return err
	}
	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
	lastPoll := time.Now()
fuzz:
	for {
		select {
		case <-cmds:
			break fuzz
		default:
		}
		input := bytes.Clone(corpus[rng.IntN(len(corpus))])
		for range 1 + rng.IntN(3) { // mutate: change, insert or drop a byte
			switch i := rng.IntN(len(input) + 1); rng.IntN(3) {
			case 0:
				if i < len(input) {
					input[i] = byte(rng.Uint32())
				}
			case 1:
				input = append(input[:i], append([]byte{byte(rng.Uint32())}, input[i:]...)...)
			case 2:
				if i < len(input) && len(input) > 1 {
					input = append(input[:i], input[i+1:]...)
				}
			}
		}
		if len(input) <= 64 && learn(input) {
			if err := share(input); err != nil {
				return err
			}
			corpus = append(corpus, input)
			found++
		}
		if time.Since(lastPoll) > 5*time.Millisecond {
			if err := receive(); err != nil {
				return err
			}
			lastPoll = time.Now()
		}
	}
	fmt.Println("stopped")
	if cmd, ok := <-cmds; !ok || cmd != "final" {
		return fmt.Errorf("want \"final\", got %q", cmd)
	}
	if err := receive(); err != nil {
		return err
	}
	fmt.Printf("worker %d found %d received %d features %d\n", worker, found, received, len(known))
	return nil
}

// workerProc is a running worker.
type workerProc struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Scanner
	inw interface{ Close() error }
}

// runParent starts the workers, lets them fuzz for dur, stops them, and checks what
// each received against the log.
func runParent(dir string, n int, dur time.Duration) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "corpus-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var ws []*workerProc
	defer func() {
		for _, w := range ws {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
	}()
	for i := 1; i <= n; i++ {
		cmd := exec.Command(self, dir)
		cmd.Env = append(os.Environ(), workerEnv+"="+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		ws = append(ws, &workerProc{cmd: cmd, in: bufio.NewWriter(stdin), out: bufio.NewScanner(stdout), inw: stdin})
	}
	time.Sleep(dur)
	say := func(w *workerProc, line, want string) (string, error) {
		fmt.Fprintln(w.in, line)
		if err := w.in.Flush(); err != nil {
			return "", err
		}
		if !w.out.Scan() {
			return "", fmt.Errorf("worker %d ended before answering %q", w.cmd.Process.Pid, line)
		}
		if !strings.HasPrefix(w.out.Text(), want) {
			return "", fmt.Errorf("worker said %q to %q", w.out.Text(), line)
		}
		return w.out.Text(), nil
	}
	for _, w := range ws { // after this, nobody appends
		if _, err := say(w, "stop", "stopped"); err != nil {
			return err
		}
	}
	found := map[int]int{}
	received := map[int]int{}
	for _, w := range ws {
		line, err := say(w, "final", "worker")
		if err != nil {
			return err
		}
		var id, f, r, x int
		if _, err := fmt.Sscanf(line, "worker %d found %d received %d features %d", &id, &f, &r, &x); err != nil {
			return fmt.Errorf("worker report %q: %v", line, err)
		}
		found[id], received[id] = f, r
		_ = w.inw.Close()
		if err := w.cmd.Wait(); err != nil {
			return fmt.Errorf("worker %d: %v", id, err)
		}
	}
	ws = nil
	// The log holds exactly what the workers found, and each received all the others'.
	l, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer l.Close()
	inLog := map[int]int{}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		return err
	}
	total := 0
	for _, v := range it.All() {
		inLog[int(v[0])]++
		total++
	}
	if err := it.Err(); err != nil {
		return err
	}
	for id := 1; id <= n; id++ {
		if inLog[id] != found[id] {
			return fmt.Errorf("worker %d found %d inputs, the log holds %d of its", id, found[id], inLog[id])
		}
		if received[id] != total-found[id] {
			return fmt.Errorf("worker %d received %d inputs, the others shared %d", id, received[id], total-found[id])
		}
	}
	fmt.Printf("corpus: %d workers shared %d inputs through one log; each received every input the others found\n", n, total)
	return nil
}
