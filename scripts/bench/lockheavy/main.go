// lockheavy: many goroutines take turns on one sync.Mutex, doing a little
// work inside, so most acquisitions contend and go through the runtime's
// semaphore (park, release, hand-over). Prints "ready <pid>", starts on
// SIGUSR1 (so a tracer can attach first), prints "elapsed_ns N" and the
// number of acquisitions.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	mu      sync.Mutex
	counter uint64
)

//go:noinline
func work(n int) {
	for i := 0; i < n; i++ {
		mu.Lock()
		for j := 0; j < 200; j++ { // ~a microsecond inside the lock
			counter += uint64(j)
		}
		mu.Unlock()
	}
}

func main() {
	goroutines := flag.Int("goroutines", 16, "goroutines on the one mutex")
	iters := flag.Int("iters", 20000, "acquisitions per goroutine")
	flag.Parse()
	start := make(chan os.Signal, 1)
	signal.Notify(start, syscall.SIGUSR1)
	fmt.Printf("ready %d\n", os.Getpid())
	<-start
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < *goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(*iters)
		}()
	}
	wg.Wait()
	fmt.Printf("elapsed_ns %d acquisitions %d\n", time.Since(t0).Nanoseconds(), *goroutines**iters)
}
