// demo is the workload gotrace's README demo attaches to: a small service
// with its own built-in load, so every kind of waiting happens in it.
//
//   - an HTTP server (/item?key=N) whose handler reads a mutex-guarded cache
//   - a refresher that rebuilds the cache while holding its lock
//   - a worker pool fed by a channel, results collected over another
//   - a ticker-driven stats reporter that sleeps between reports
//   - clients that call the HTTP server on loopback
//   - a CPU-bound burst every 2 s (buildReport: more busy goroutines than
//     Ps for 200 ms), during which the others wait for a P
//
// It runs until killed, or for -duration.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type cache struct {
	mu    sync.Mutex
	items map[int]string
}

func (c *cache) get(key int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[key]
	return v, ok
}

// refresh rebuilds the whole cache under the lock: the contention the demo shows.
func (c *cache) refresh(gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	items := make(map[int]string, 512)
	for i := 0; i < 512; i++ {
		items[i] = fmt.Sprintf("item-%d-gen-%d", i, gen)
	}
	time.Sleep(2 * time.Millisecond) // pretend to fetch from a backend
	c.items = items
}

type job struct {
	n      int
	result chan<- int
}

func worker(jobs <-chan job) {
	for j := range jobs {
		sum := 0
		for i := 0; i < j.n*100; i++ {
			sum += i % 7
		}
		j.result <- sum
	}
}

var served atomic.Int64

var reportSink uint64

// buildReport is CPU-bound for d: while it runs, handlers wait for a P.
func buildReport(d time.Duration) {
	end := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	atomic.AddUint64(&reportSink, x)
}

func main() {
	duration := flag.Duration("duration", 0, "exit after this long (0: run until killed)")
	addr := flag.String("addr", "127.0.0.1:0", "HTTP listen address")
	flag.Parse()

	c := &cache{items: map[int]string{}}
	c.refresh(0)

	jobs := make(chan job)
	for i := 0; i < 4; i++ {
		go worker(jobs)
	}

	http.HandleFunc("/item", func(w http.ResponseWriter, r *http.Request) {
		key, _ := strconv.Atoi(r.URL.Query().Get("key"))
		v, ok := c.get(key % 512)
		if !ok {
			http.NotFound(w, r)
			return
		}
		result := make(chan int, 1)
		jobs <- job{n: key % 50, result: result}
		fmt.Fprintf(w, "%s %d\n", v, <-result)
		served.Add(1)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("demo: pid %d serving on http://%s\n", os.Getpid(), ln.Addr())
	go http.Serve(ln, nil)

	go func() { // refresher
		for gen := 1; ; gen++ {
			time.Sleep(20 * time.Millisecond)
			c.refresh(gen)
		}
	}()

	go func() { // stats reporter
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for range t.C {
			_ = served.Load()
		}
	}()

	go func() { // a CPU-bound burst every 2 s: more busy goroutines than Ps for 200 ms
		for {
			time.Sleep(2 * time.Second)
			for i := 0; i <= runtime.GOMAXPROCS(0); i++ {
				go buildReport(200 * time.Millisecond)
			}
		}
	}()

	url := "http://" + ln.Addr().String() + "/item?key="
	for i := 0; i < 8; i++ { // clients
		go func(id int) {
			client := &http.Client{Timeout: 5 * time.Second}
			for n := id; ; n += 8 {
				resp, err := client.Get(url + strconv.Itoa(n))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(time.Millisecond)
			}
		}(i)
	}

	if *duration > 0 {
		time.Sleep(*duration)
		fmt.Printf("demo: served %d requests\n", served.Load())
		return
	}
	select {}
}
