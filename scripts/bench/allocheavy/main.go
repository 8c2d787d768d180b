// allocheavy: an allocation-heavy workload for `gotrace alloc`'s overhead:
// several goroutines encode and decode JSON documents and build maps from
// them, as a typical service does per request. Prints "ready <pid>", starts
// on SIGUSR1 (so a tracer can attach first), prints "elapsed_ns N" and the
// number of documents. Built with -tags memprof it links a heap-profile
// reader (memprof.go), so the runtime keeps memory profiling on
// (MemProfileRate 512 KiB); without it the linker turns profiling off (rate
// 0) and gotrace alloc uses its refill sampler.
//
// With -mapwrites N each goroutine instead does N map assignments into a
// small map[int64]int (runtime.mapassign_fast64, no growth, no allocation):
// the workload for `gotrace alloc --map-writes`, whose cost is per write.
// It prints "elapsed_ns N writes W".
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

type Item struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Score float64           `json:"score"`
}

type Doc struct {
	Owner string  `json:"owner"`
	Items []*Item `json:"items"`
}

var atEnd func() // memprof.go

//go:noinline
func roundTrip(i int) int {
	d := Doc{Owner: "user" + strconv.Itoa(i)}
	for k := 0; k < 20; k++ {
		d.Items = append(d.Items, &Item{ID: k, Name: "item" + strconv.Itoa(k), Tags: []string{"a", "b", "c"},
			Attrs: map[string]string{"k": "v", "n": strconv.Itoa(k)}, Score: float64(k) / 3})
	}
	b, err := json.Marshal(&d)
	if err != nil {
		panic(err)
	}
	var back Doc
	if err := json.Unmarshal(b, &back); err != nil {
		panic(err)
	}
	index := make(map[string]*Item)
	for _, it := range back.Items {
		index[it.Name] = it
	}
	return len(index) + len(b)
}

//go:noinline
func writeLoop(m map[int64]int, n int) {
	for i := 0; i < n; i++ {
		m[int64(i&63)] = i
	}
}

func main() {
	goroutines := flag.Int("goroutines", 4, "goroutines")
	docs := flag.Int("docs", 20000, "documents per goroutine")
	mapWrites := flag.Int("mapwrites", 0, "map writes per goroutine instead of documents")
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
			if *mapWrites > 0 {
				m := make(map[int64]int, 64)
				writeLoop(m, 64)
				writeLoop(m, *mapWrites)
				return
			}
			for i := 0; i < *docs; i++ {
				roundTrip(i)
			}
		}()
	}
	wg.Wait()
	if *mapWrites > 0 {
		fmt.Printf("elapsed_ns %d writes %d\n", time.Since(t0).Nanoseconds(), *goroutines**mapWrites)
	} else {
		fmt.Printf("elapsed_ns %d docs %d\n", time.Since(t0).Nanoseconds(), *goroutines**docs)
	}
	if atEnd != nil {
		atEnd()
	}
}
