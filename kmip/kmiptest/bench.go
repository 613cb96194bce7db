package kmiptest

import (
	"fmt"
	"testing"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
)

// OneItemOK checks that an encoded response holds one successful item:
// what a benchmark asks of each answer it times.
func OneItemOK(out []byte) error {
	resp, err := client.DecodeResponse(out)
	if err != nil {
		return err
	}
	if len(resp.Items) != 1 {
		return fmt.Errorf("%d items in the response", len(resp.Items))
	}
	return resp.Items[0].Err()
}

// ReportCPU adds the process's CPU time (user and system, an in-process
// HSM module's included) per operation to a benchmark's results, as
// cpu-ns/op: on a shared machine wall time says little. Call the
// function it returns when the timed work is done.
func ReportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
