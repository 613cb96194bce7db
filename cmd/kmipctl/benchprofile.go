package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile profiles the load generator (bench --cpuprofile): it
// shares the machine with the server it measures, so what it costs is
// worth knowing.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
