package ops

import (
	"context"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// rekeyNotCopied are the attributes a replacement key does not inherit:
// the server sets them anew, or they describe the old key's life.
var rekeyNotCopied = map[string]bool{
	attr.UniqueIdentifier: true, attr.State: true, attr.InitialDate: true, attr.LastChangeDate: true,
	attr.Digest: true, attr.ActivationDate: true, attr.DeactivationDate: true, attr.DestroyDate: true,
	attr.CompromiseDate: true, attr.CompromiseOccurrenceDate: true, attr.RevocationReason: true,
	attr.Link: true, attr.Name: true,
}

// rekey implements Re-key (KMIP 1.4 section 4.4) for symmetric keys: a new
// key of the same algorithm and length, with the old key's attributes
// (overridden by any the client sends) and its Names, which move from the
// old key to the new one; the two are linked (Replacement / Replaced
// Object Link). Dates follow the specification's table: without an Offset
// the new key copies the old key's Activation, Process Start, Protect Stop
// and Deactivation Dates (so a replacement of an Active key is Active);
// with one, the new key activates (and starts processing) Offset from now,
// and stops as long after that as the old key did.
func (s *Service) rekey(ctx context.Context, call *Call) (any, error) {
	var req message.ReKeyRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	offset, err := rekeyOffset(req.Offset)
	if err != nil {
		return nil, err
	}
	override, err := s.requestAttributes(ctx, call, req.TemplateAttribute, req.Attributes)
	if err != nil {
		return nil, err
	}
	if err := checkClientAttributes(override); err != nil {
		return nil, err
	}

	old, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	if old.shared != nil {
		return nil, errReadOnly(id)
	}
	if old.rec.ObjectType != uint32(kmip14.ObjectTypeSymmetricKey) {
		return nil, message.Errorf(kmip20.ResultReasonIllegalOperation, "Re-key replaces symmetric keys; %s is a %s", id, kmip14.ObjectType(old.rec.ObjectType))
	}
	if _, err := object.Transition(object.State(old.rec.State), object.EventUse); err != nil {
		return nil, err
	}

	var attrs attr.List
	for _, a := range old.attrs {
		if !rekeyNotCopied[a.Name] {
			attrs = append(attrs, a)
		}
	}
	for _, a := range old.attrs.All(attr.Name) {
		attrs = append(attrs, a)
	}
	for _, a := range override {
		attrs.Delete(a.Name)
	}
	attrs = append(attrs, override...)
	now := s.now()
	dates := rekeyDates(old.attrs, now, offset)
	for _, name := range []string{attr.ActivationDate, attr.ProcessStartDate, attr.ProtectStopDate, attr.DeactivationDate} {
		if _, overridden := override.Get(name); overridden {
			continue
		}
		attrs.Delete(name)
		if t, ok := dates[name]; ok {
			attrs.Set(name, attr.Date(t))
		}
	}
	spec, err := checkSymmetric(attrs)
	if err != nil {
		return nil, err
	}
	var material []byte
	var digest ttlv.TTLV                                // none for a kept key, whose material the server never sees
	keeper, keep, err := s.keeperFor(ctx, call, &attrs) // keptkeys.go
	if err != nil {
		return nil, err
	}
	if keep && keepable(spec) {
		material, err = s.keptMaterial(ctx, call, keeper, &attrs, spec)
	} else if material, err = s.newMaterial(ctx, spec); err == nil {
		digest, err = rawDigest(material, kmip14.KeyFormatTypeRaw)
	}
	if err != nil {
		return nil, err
	}
	defer clear(material)

	// The new key and both links in one transaction: a failed Re-key
	// leaves no unlinked replacement behind.
	var newID string
	err = s.atomic(ctx, call, func(ctx context.Context) error {
		replacement, err := s.insert(ctx, call, newObject{Type: kmip14.ObjectTypeSymmetricKey, Attrs: attrs, Material: material, Digest: digest, Format: kmip14.KeyFormatTypeRaw, Generated: true})
		if err != nil {
			return err
		}
		newID = replacement.rec.ID
		if _, err := s.update(ctx, call, newID, func(m *managed) error {
			m.attrs.Add(attr.Link, mustLink(kmip14.LinkTypeReplacedObjectLink, id))
			return nil
		}); err != nil {
			return err
		}
		_, err = s.update(ctx, call, id, func(m *managed) error {
			m.attrs.Delete(attr.Name)
			m.attrs.Add(attr.Link, mustLink(kmip14.LinkTypeReplacementObjectLink, newID))
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = newID
	return &message.ReKeyResponse{UniqueIdentifier: newID}, nil
}

// rekeyDates computes the replacement key's lifecycle dates from the old
// key's (KMIP 1.4 section 4.4, the Re-key attribute table).
func rekeyDates(old attr.List, now time.Time, offset *time.Duration) map[string]time.Time {
	get := func(name string) (time.Time, bool) {
		a, ok := old.Get(name)
		if !ok {
			return time.Time{}, false
		}
		t, err := a.Date()
		return t, err == nil
	}
	out := map[string]time.Time{}
	if offset == nil {
		for _, name := range []string{attr.ActivationDate, attr.ProcessStartDate, attr.ProtectStopDate, attr.DeactivationDate} {
			if t, ok := get(name); ok {
				out[name] = t
			}
		}
		return out
	}
	start := now.Add(*offset)
	out[attr.ActivationDate] = start
	if _, ok := get(attr.ProcessStartDate); ok {
		out[attr.ProcessStartDate] = start
	}
	oldStart, hasStart := get(attr.ActivationDate)
	for _, name := range []string{attr.ProtectStopDate, attr.DeactivationDate} {
		if end, ok := get(name); ok && hasStart {
			out[name] = shiftDate(start, end.Unix()-oldStart.Unix())
		}
	}
	return out
}

// shiftDate is start plus span seconds, counted in seconds because a
// time.Duration saturates at 292 years and dates run from year 1 to 9999.
// A date past 9999-12-31 (a span of millennia after an offset) is kept at
// that end, which every peer reads as "never", rather than stored out of
// the range requests are held to (message.CheckDates).
func shiftDate(start time.Time, span int64) time.Time {
	s := start.Unix() + span // both within years 1-9999: no overflow
	switch {
	case s > message.MaxDateTime.Unix():
		return message.MaxDateTime
	case s < message.MinDateTime.Unix():
		return message.MinDateTime
	}
	return time.Unix(s, 0).UTC()
}

func mustLink(t kmip14.LinkType, id string) ttlv.TTLV {
	v, err := attr.Struct(message.Link{LinkType: uint32(t), LinkedObjectIdentifier: id})
	if err != nil {
		panic(err) // fixed types: cannot fail
	}
	return v
}

// rekeyOffset reads the Offset of Re-key and Re-key Key Pair: nil when
// absent, Invalid Field when it is not an Interval.
func rekeyOffset(raw ttlv.TTLV) (*time.Duration, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if raw.Type() != ttlv.TypeInterval {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Offset must be an Interval")
	}
	d := raw.ValueInterval()
	return &d, nil
}
