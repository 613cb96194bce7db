package metrics

import (
	"context"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Secure import and record MACs, measured like the other calls (Backend
// narrows the wrapper to what the wrapped backend offers).

func (b *measuredBackend) TransportKeys(ctx context.Context) (out []backend.TransportKey, err error) {
	defer func(start time.Time) { b.observe("TransportKeys", start, err) }(time.Now())
	return b.Backend.(backend.TransportImporter).TransportKeys(ctx)
}

func (b *measuredBackend) ImportKept(ctx context.Context, req backend.TransportImportRequest) (out []byte, bits int, err error) {
	defer func(start time.Time) { b.observe("ImportKept", start, err) }(time.Now())
	return b.Backend.(backend.TransportImporter).ImportKept(ctx, req)
}

func (b *measuredBackend) DecryptTransport(ctx context.Context, req backend.TransportImportRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("DecryptTransport", start, err) }(time.Now())
	return b.Backend.(backend.TransportImporter).DecryptTransport(ctx, req)
}

func (b *measuredBackend) MACRecord(ctx context.Context, tenantID string, record []byte) (out []byte, err error) {
	defer func(start time.Time) { b.observe("MACRecord", start, err) }(time.Now())
	return b.Backend.(backend.RecordMACer).MACRecord(ctx, tenantID, record)
}

func (b *measuredBackend) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) (err error) {
	defer func(start time.Time) { b.observe("VerifyRecord", start, err) }(time.Now())
	return b.Backend.(backend.RecordMACer).VerifyRecord(ctx, tenantID, record, mac)
}

var (
	_ backend.TransportImporter = (*measuredBackend)(nil)
	_ backend.RecordMACer       = (*measuredBackend)(nil)
)
