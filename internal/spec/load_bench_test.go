package spec

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envSpec is good with n environment variables: the shape of the specs that
// took quadratic time (one wide mapping).
func envSpec(n int) []byte {
	var b strings.Builder
	b.WriteString(strings.Replace(good, "      command:", "      env:\n__ENV__      command:", 1))
	var env strings.Builder
	for i := range n {
		fmt.Fprintf(&env, "        VAR_%06d: value-%d\n", i, i)
	}
	return []byte(strings.Replace(b.String(), "__ENV__", env.String(), 1))
}

// BenchmarkParseWideMapping loads specs with 10,000 and 100,000 env entries
// and reports the time and memory per entry: equal figures at both sizes
// mean loading is linear. It reports CPU time per entry beside wall time
// because this machine's cores are shared: wall time then measures the
// neighbours as much as the parser. Run with
//
//	go test -run '^$' -bench ParseWideMapping -benchmem ./internal/spec/
func BenchmarkParseWideMapping(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := envSpec(n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				rs, err := Parse("k.yaml", data)
				if err != nil || len(rs[0].Spec.Platform.Local.Env) != n {
					b.Fatalf("parse: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/entry")
		})
	}
}
