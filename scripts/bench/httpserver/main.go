// httpserver: a plain net/http server for load tests. Prints "ready <pid> <addr>".
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
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
