package metrics

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// The transport-import and record-MAC calls of the test backend
// everything (keeper_test.go), so that it offers every optional interface.

func (e *everything) TransportKeys(context.Context) ([]backend.TransportKey, error) {
	e.calls = append(e.calls, "TransportKeys")
	return nil, nil
}

func (e *everything) ImportKept(context.Context, backend.TransportImportRequest) ([]byte, int, error) {
	e.calls = append(e.calls, "ImportKept")
	return nil, 0, nil
}

func (e *everything) DecryptTransport(context.Context, backend.TransportImportRequest) ([]byte, error) {
	e.calls = append(e.calls, "DecryptTransport")
	return nil, nil
}

func (e *everything) MACRecord(context.Context, string, []byte) ([]byte, error) {
	e.calls = append(e.calls, "MACRecord")
	return []byte{1}, nil
}

func (e *everything) VerifyRecord(context.Context, string, []byte, []byte) error {
	e.calls = append(e.calls, "VerifyRecord")
	return nil
}
