package ops

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// What the cryptographic operations share: finding the key, checking that
// it may be used the way the client asks (state, dates, usage mask), the
// Cryptographic Parameters that apply, and the key itself, opened inside
// the root of trust and parsed into a Go key.

// cryptoUse is what an operation does with a key (KMIP 1.4 section 3.22):
// applying protection (Encrypt, Sign, MAC) needs an Active key before its
// Protect Stop Date; processing protected data (Decrypt, Signature Verify,
// MAC Verify) is also allowed once the key is Deactivated or Compromised,
// from its Process Start Date on.
type cryptoUse int

const (
	useProtect cryptoUse = iota + 1
	useProcess
)

// cryptoKey is a managed key ready for a cryptographic operation.
type cryptoKey struct {
	m *managed
	// key is symmetricKey, *rsa.PrivateKey, *rsa.PublicKey,
	// *ecdsa.PrivateKey, *ecdsa.PublicKey, or keptKey (keptkeys.go).
	key any
	// algorithm is the key's Cryptographic Algorithm attribute.
	algorithm kmip14.CryptographicAlgorithm
	// params are the key's Cryptographic Parameters attribute (the first
	// instance), zero when it has none.
	params message.CryptographicParameters
}

// usableKey loads the object id of the caller's tenant for an operation
// that needs usage mask bit mask, and opens its material.
func (s *Service) usableKey(ctx context.Context, call *Call, id string, use cryptoUse, mask kmip14.CryptographicUsageMask) (*cryptoKey, error) {
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkUse(m, use, mask); err != nil {
		return nil, err
	}
	t := kmip14.ObjectType(m.rec.ObjectType)
	switch t {
	case kmip14.ObjectTypeSymmetricKey, kmip14.ObjectTypePublicKey, kmip14.ObjectTypePrivateKey, kmip14.ObjectTypeSecretData:
	default:
		return nil, message.Errorf(kmip20.ResultReasonInvalidObjectType, "object %s is a %s, not a key", id, t)
	}
	plain, err := s.material(ctx, call, m)
	if err != nil {
		return nil, err
	}
	st, err := unsealMaterial(t, plain)
	if err != nil {
		clear(plain)
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	var key any
	if st.format == keptFormat {
		alg, length, _ := cryptoParams(m.attrs)
		family := kmip14.CryptographicAlgorithm(alg)
		switch family {
		case kmip14.CryptographicAlgorithmEC, kmip14.CryptographicAlgorithmECDSA, kmip14.CryptographicAlgorithmECDH:
			family = kmip14.CryptographicAlgorithmECDSA
		}
		key = keptKey{wrapped: bytes.Clone(st.payload), bits: length, family: family}
	} else if t == kmip14.ObjectTypeSecretData {
		key = symmetricKey(st.payload)
	} else if key, err = parseKey(t, st.format, materialItem(st.format, st.payload)); err != nil {
		clear(plain)
		return nil, fmt.Errorf("stored material of %s: %v", id, err)
	}
	if _, ok := key.(symmetricKey); !ok {
		clear(plain) // the parsed key holds its own copy
	}
	if _, ok := key.(opaqueKey); ok {
		clear(plain)
		return nil, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "object %s holds Opaque key material, which the server cannot use", id)
	}
	k := &cryptoKey{m: m, key: key}
	if alg, _, err := cryptoParams(m.attrs); err == nil {
		k.algorithm = kmip14.CryptographicAlgorithm(alg)
	}
	if a, ok := m.attrs.Get(attr.CryptographicParameters); ok {
		if err := message.Unmarshal(a.Value, &k.params); err != nil {
			return nil, fmt.Errorf("object %s: Cryptographic Parameters: %w", id, err)
		}
	}
	return k, nil
}

// checkUse checks the object's state, dates and usage mask for use.
func (s *Service) checkUse(m *managed, use cryptoUse, mask kmip14.CryptographicUsageMask) error {
	id := m.rec.ID
	st := object.State(m.rec.State)
	if _, err := object.Transition(st, object.EventUse); err != nil {
		return err
	}
	now := s.now()
	date := func(name string) (time.Time, bool) {
		a, ok := m.attrs.Get(name)
		if !ok {
			return time.Time{}, false
		}
		t, err := a.Date()
		return t, err == nil
	}
	switch use {
	case useProtect:
		if st != object.StateActive {
			return message.Errorf(kmip20.ResultReasonWrongKeyLifecycleState, "object %s is %s: only an Active key applies cryptographic protection", id, st)
		}
		if t, ok := date(attr.ProtectStopDate); ok && !now.Before(t) {
			return message.Errorf(kmip20.ResultReasonWrongKeyLifecycleState, "object %s is past its Protect Stop Date", id)
		}
	case useProcess:
		if st != object.StateActive && st != object.StateDeactivated && st != object.StateCompromised {
			return message.Errorf(kmip20.ResultReasonWrongKeyLifecycleState, "object %s is %s: it cannot process protected data", id, st)
		}
		if t, ok := date(attr.ProcessStartDate); ok && now.Before(t) {
			return message.Errorf(kmip20.ResultReasonWrongKeyLifecycleState, "object %s is before its Process Start Date", id)
		}
	}
	var have int32
	if a, ok := m.attrs.Get(attr.CryptographicUsageMask); ok {
		v, err := a.Int()
		if err != nil {
			return err
		}
		have = v
	}
	if int32(mask)&have == 0 {
		return message.Errorf(kmip20.ResultReasonIncompatibleCryptographicUsageMask, "the Cryptographic Usage Mask of object %s does not allow %s", id, mask)
	}
	return nil
}

// requestParams merges the request's Cryptographic Parameters (nil when
// absent) over the key's.
func (k *cryptoKey) requestParams(p *message.CryptographicParameters) message.CryptographicParameters {
	if p == nil {
		return k.params
	}
	return k.params.Merge(*p)
}

// spendUsage counts n units of use against the key's Usage Limits (KMIP
// 1.4 section 3.21): Byte limits count the data, Object limits (and Block
// limits, as blocks of 16) count operations. A key without Usage Limits
// has none. Running out answers Permission Denied, as the profiles' test
// cases show (CS-BC-M-7).
func (s *Service) spendUsage(ctx context.Context, call *Call, k *cryptoKey, dataLen int) error {
	if _, limited := k.m.attrs.Get(attr.UsageLimits); !limited {
		return nil
	}
	_, err := s.update(ctx, call, k.m.rec.ID, func(m *managed) error {
		a, ok := m.attrs.Get(attr.UsageLimits)
		if !ok {
			return nil
		}
		var ul struct {
			UsageLimitsTotal int64
			UsageLimitsCount int64 `ttlv:",omitempty"`
			UsageLimitsUnit  kmip14.UsageLimitsUnit
		}
		if err := message.Unmarshal(a.Value, &ul); err != nil {
			return fmt.Errorf("object %s: Usage Limits: %w", m.rec.ID, err)
		}
		count := ul.UsageLimitsTotal
		if hasField(a.Value, kmip14.TagUsageLimitsCount) {
			count = ul.UsageLimitsCount
		}
		var spend int64
		switch ul.UsageLimitsUnit {
		case kmip14.UsageLimitsUnitByte:
			spend = int64(dataLen)
		case kmip14.UsageLimitsUnitObject:
			spend = 1
		default:
			spend = int64((dataLen + 15) / 16)
		}
		if spend > count {
			return message.Errorf(kmip20.ResultReasonPermissionDenied, "object %s has reached its Usage Limits", m.rec.ID)
		}
		ul.UsageLimitsCount = count - spend
		v, err := attr.Struct(struct {
			UsageLimitsTotal int64
			UsageLimitsCount int64
			UsageLimitsUnit  kmip14.UsageLimitsUnit
		}{ul.UsageLimitsTotal, ul.UsageLimitsCount, ul.UsageLimitsUnit})
		if err != nil {
			return err
		}
		m.attrs.Set(attr.UsageLimits, v)
		return nil
	})
	return err
}

// hasField reports whether structure t has a field tagged tag.
func hasField(t ttlv.TTLV, tag ttlv.Tag) bool {
	for _, c := range attr.Children(t) {
		if c.Tag() == tag {
			return true
		}
	}
	return false
}

// forget clears the key's secret material once the operation is done.
func (k *cryptoKey) forget() {
	if b, ok := k.key.(symmetricKey); ok {
		clear(b)
	}
}
