//go:build memprof

package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// Reading the heap profile (even into io.Discard) is what keeps the
// runtime's memory profiling on.
func init() {
	atEnd = func() {
		if err := pprof.WriteHeapProfile(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
