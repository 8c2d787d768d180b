// httpserver: a plain net/http server for load tests. Prints "ready <pid> <addr>".
// -blockprofile and -trace turn on the in-process alternatives to gotrace
// (Go's block profile at rate 1 with the mutex profile at fraction 1, or
// runtime/trace written to /dev/null), so the benchmark can set their cost
// next to gotrace's.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/trace"
	"sync"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	blockProfile := flag.Bool("blockprofile", false, "record Go's block profile (rate 1) and mutex profile (fraction 1)")
	traceOn := flag.Bool("trace", false, "run runtime/trace into /dev/null")
	flag.Parse()
	// The benchmark ends the server with SIGINT. Taking it here (rather than
	// by its default action) also works when the benchmark was started in the
	// background by a shell, which starts its children with SIGINT ignored.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		os.Exit(0)
	}()
	if *blockProfile {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
	}
	if *traceOn {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := trace.Start(devnull); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	var mu sync.Mutex
	hits := map[string]int{}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n := hits[r.URL.Path]
		mu.Unlock()
		fmt.Fprintf(w, "hello %s %d\n", r.URL.Path, n)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ready %d %s\n", os.Getpid(), ln.Addr())
	http.Serve(ln, nil)
}
