// pingpong: two goroutines bounce a token over unbuffered channels; every
// round trip parks and readies each goroutine once. Prints "ready <pid>",
// starts on SIGUSR1 (so a tracer can attach first), prints "elapsed_ns N".
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 200000, "round trips")
	wait := flag.Bool("wait", true, "wait for SIGUSR1 before starting")
	flag.Parse()
	start := make(chan os.Signal, 1)
	signal.Notify(start, syscall.SIGUSR1)
	fmt.Printf("ready %d\n", os.Getpid())
	if *wait {
		<-start
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	t0 := time.Now()
	for i := 0; i < *rounds; i++ {
		ping <- i
		<-pong
	}
	fmt.Printf("elapsed_ns %d\n", time.Since(t0).Nanoseconds())
}
