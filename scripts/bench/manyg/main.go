// manyg: a target for scripts/bench-goroutines.sh. It parks -parked
// goroutines (chan receive, a few frames deep), runs a work loop whose
// throughput it reports, and a heartbeat (a 1ms ticker loop) whose worst gap
// it measures. Commands on stdin, one answer line each on stdout:
//
//	measure MS  run MS milliseconds: "measure ops_per_s=N maxgap_us=N"
//	pprof       write the goroutine profile with debug=2 (what net/http/pprof
//	            serves at /debug/pprof/goroutine?debug=2) to io.Discard:
//	            "pprof wall_ms=N maxgap_us=N stw_max_us=N bytes=N", the
//	            stop-the-world pause from runtime/metrics /sched/pauses
//	quit
//
// With -http ADDR it is instead a net/http server that starts a goroutine
// per request (it waits for it: a short-lived goroutine each time) and
// prints "ready PID ADDR".
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var block = make(chan int) // nobody sends

//go:noinline
func parkC(depth int) int {
	if depth > 0 {
		return parkC(depth-1) + 1
	}
	return <-block
}

//go:noinline
func parkB(i int) { parkC(i % 4) }

//go:noinline
func parkA(i int, started *sync.WaitGroup) {
	started.Done()
	parkB(i)
}

var ops atomic.Uint64

func work() {
	x := uint64(1)
	for {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if x == 0 {
			fmt.Println("unreachable")
		}
		ops.Add(1)
	}
}

// maxGap is the worst heartbeat gap since the last reset, in ns.
var maxGap atomic.Int64
var lastBeat atomic.Int64

func heartbeat() {
	t := time.NewTicker(time.Millisecond)
	lastBeat.Store(time.Now().UnixNano())
	for range t.C {
		now := time.Now().UnixNano()
		gap := now - lastBeat.Swap(now)
		for {
			m := maxGap.Load()
			if gap <= m || maxGap.CompareAndSwap(m, gap) {
				break
			}
		}
	}
}

// The longest stop-the-world pause recorded so far (the histogram's highest
// non-empty bucket's upper bound), in µs; -1 when the metric is missing
// (before Go 1.22).
func stwMaxUs() float64 {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}, {Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	best := -1.0
	for _, x := range s {
		if x.Value.Kind() != metrics.KindFloat64Histogram {
			continue
		}
		h := x.Value.Float64Histogram()
		for i := len(h.Counts) - 1; i >= 0; i-- {
			if h.Counts[i] > 0 {
				b := h.Buckets[i+1]
				if math.IsInf(b, 1) {
					b = h.Buckets[i]
				}
				best = math.Max(best, b*1e6)
				break
			}
		}
	}
	return best
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func serveHTTP(addr string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan string)
		go func() { done <- "hello " + r.URL.Path + "\n" }() // a short-lived goroutine per request
		io.WriteString(w, <-done)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ready %d %s\n", os.Getpid(), ln.Addr())
	http.Serve(ln, nil)
}

func main() {
	parked := flag.Int("parked", 100000, "parked goroutines")
	httpAddr := flag.String("http", "", "serve HTTP here instead (a goroutine per request)")
	flag.Parse()
	if *httpAddr != "" {
		serveHTTP(*httpAddr)
		return
	}
	var started sync.WaitGroup
	started.Add(*parked)
	for i := 0; i < *parked; i++ {
		go parkA(i, &started)
	}
	started.Wait()
	go work()
	go heartbeat()
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("ready %d\n", os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "measure":
			ms, _ := strconv.Atoi(f[1])
			maxGap.Store(0)
			o0, t0 := ops.Load(), time.Now()
			time.Sleep(time.Duration(ms) * time.Millisecond)
			o1, t1 := ops.Load(), time.Now()
			fmt.Printf("measure ops_per_s=%.0f maxgap_us=%d\n", float64(o1-o0)/t1.Sub(t0).Seconds(), maxGap.Load()/1000)
		case "pprof":
			time.Sleep(20 * time.Millisecond)
			maxGap.Store(0)
			var c counter
			t0 := time.Now()
			pprof.Lookup("goroutine").WriteTo(&c, 2)
			wall := time.Since(t0)
			time.Sleep(5 * time.Millisecond) // let the heartbeat see the gap
			fmt.Printf("pprof wall_ms=%.1f maxgap_us=%d stw_max_us=%.0f bytes=%d\n", wall.Seconds()*1e3,
				maxGap.Load()/1000, stwMaxUs(), c.n)
		case "quit":
			return
		}
	}
}
