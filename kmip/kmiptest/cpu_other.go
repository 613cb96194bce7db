//go:build !unix

package kmiptest

// processCPU is not measured here: ReportCPU reports 0.
func processCPU() int64 { return 0 }
