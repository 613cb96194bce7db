package wire

import (
	merry1 "github.com/ansel1/merry"
	merry2 "github.com/ansel1/merry/v2"
)

// gemalto's ttlv codec builds a merry error, with a captured stack trace,
// for every struct field whose Go type name is not a KMIP tag, on every
// Marshal and Unmarshal (it caches no type information). The errors are
// discarded, but capturing their stacks was most of the server's CPU under
// load (profiled with kmipctl bench: Gets 2-4 times faster without it). No
// code here reads merry stacks, so capture is turned off for the process.
func init() {
	merry1.SetStackCaptureEnabled(false)
	merry2.SetStackCaptureEnabled(false)
}
