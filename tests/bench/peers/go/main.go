// The workloads of tests/bench/bench_multi.c in Go with GOMAXPROCS=2 (where the
// scheduler runs the two goroutines is its own business):
//
//	x1  a buffered chan uint64 of capacity 1024, a producer and a consumer
//	    goroutine: ns per item
//	x2  ping-pong over two chan uint64 of capacity 1: ns per round trip
//
// Usage: bench_peer_go [X1_ITEMS [X2_ROUND_TRIPS]]; prints "x1 NS" and "x2 NS", each
// the median of runs runs.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

const runs = 5

func x1(n int) float64 {
	ch := make(chan uint64, 1024)
	done := make(chan uint64)
	t0 := time.Now()
	go func() {
		var s uint64
		for v := range ch {
			s += v
		}
		done <- s
	}()
	go func() {
		for i := 0; i < n; i++ {
			ch <- uint64(i)
		}
		close(ch)
	}()
	s := <-done
	dt := time.Since(t0)
	if s != uint64(n)*uint64(n-1)/2 {
		panic("x1: wrong sum")
	}
	return float64(dt.Nanoseconds()) / float64(n)
}

func x2(n int) float64 {
	a := make(chan uint64, 1)
	b := make(chan uint64, 1)
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			b <- <-a
		}
	}()
	go func() {
		for i := 0; i < n; i++ {
			a <- uint64(i)
			if <-b != uint64(i) {
				panic("x2: wrong item")
			}
		}
		close(done)
	}()
	<-done
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func median(f func(int) float64, n int) float64 {
	t := make([]float64, runs)
	for r := range t {
		t[r] = f(n)
	}
	sort.Float64s(t)
	return t[runs/2]
}

func arg(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil {
			panic(err)
		}
		return v
	}
	return def
}

func main() {
	runtime.GOMAXPROCS(2)
	n1, n2 := arg(1, 10000000), arg(2, 200000)
	fmt.Printf("x1 %.2f\n", median(x1, n1))
	fmt.Printf("x2 %.2f\n", median(x2, n2))
}
