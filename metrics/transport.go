package metrics

import (
	"context"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Secure import and record MACs, measured like the other calls:
// measuredBackend.As hands these out when the wrapped backend has them.

// measuredTransportImporter is the measured backend.TransportImporter.
type measuredTransportImporter struct {
	m  *Metrics
	in backend.TransportImporter
}

func (t measuredTransportImporter) TransportKeys(ctx context.Context) (out []backend.TransportKey, err error) {
	defer func(start time.Time) { t.m.observeBackend("TransportKeys", start, err) }(time.Now())
	return t.in.TransportKeys(ctx)
}

func (t measuredTransportImporter) ImportKept(ctx context.Context, req backend.TransportImportRequest) (out []byte, bits int, err error) {
	defer func(start time.Time) { t.m.observeBackend("ImportKept", start, err) }(time.Now())
	return t.in.ImportKept(ctx, req)
}

func (t measuredTransportImporter) DecryptTransport(ctx context.Context, req backend.TransportImportRequest) (out []byte, err error) {
	defer func(start time.Time) { t.m.observeBackend("DecryptTransport", start, err) }(time.Now())
	return t.in.DecryptTransport(ctx, req)
}

// measuredMACer is the measured backend.RecordMACer.
type measuredMACer struct {
	m  *Metrics
	in backend.RecordMACer
}

func (r measuredMACer) MACRecord(ctx context.Context, tenantID string, record []byte) (out []byte, err error) {
	defer func(start time.Time) { r.m.observeBackend("MACRecord", start, err) }(time.Now())
	return r.in.MACRecord(ctx, tenantID, record)
}

func (r measuredMACer) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) (err error) {
	defer func(start time.Time) { r.m.observeBackend("VerifyRecord", start, err) }(time.Now())
	return r.in.VerifyRecord(ctx, tenantID, record, mac)
}

var (
	_ backend.TransportImporter = measuredTransportImporter{}
	_ backend.RecordMACer       = measuredMACer{}
)
