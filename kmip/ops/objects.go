package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// managed is a stored object with its attributes decoded.
type managed struct {
	rec   *store.Object
	attrs attr.List
}

// load reads an object of the caller's tenant. Another tenant's object is
// as missing as one that never existed.
func (s *Service) load(ctx context.Context, call *Call, id string) (*managed, error) {
	rec, err := s.store.GetObject(ctx, call.Tenant, id)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	attrs, err := attr.Unmarshal(rec.Attributes)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	return &managed{rec: rec, attrs: attrs}, nil
}

// encodeAttrs writes the attribute list back into the record, keeping the
// indexed columns in step with it.
func (m *managed) encodeAttrs() error {
	b, err := m.attrs.Marshal()
	if err != nil {
		return err
	}
	m.rec.Attributes = b
	m.rec.Names = m.rec.Names[:0]
	for _, a := range m.attrs.All(attr.Name) {
		if n, err := a.NameValue(); err == nil {
			m.rec.Names = append(m.rec.Names, n.NameValue)
		}
	}
	return nil
}

// additionalData binds sealed material to this object.
func (m *managed) additionalData() ([]byte, error) {
	alg, length, err := cryptoParams(m.attrs)
	if err != nil {
		return nil, err
	}
	return object.AdditionalData(m.rec.TenantID, m.rec.ID, m.rec.ObjectType, alg, length), nil
}

// cryptoParams reads Cryptographic Algorithm and Length, which are
// immutable once an object exists.
func cryptoParams(l attr.List) (alg uint32, length int32, err error) {
	if a, ok := l.Get(attr.CryptographicAlgorithm); ok {
		if alg, err = a.Enum(); err != nil {
			return 0, 0, err
		}
	}
	if a, ok := l.Get(attr.CryptographicLength); ok {
		if length, err = a.Int(); err != nil {
			return 0, 0, err
		}
	}
	return alg, length, nil
}

// update applies change to the object and stores it, re-reading and
// re-applying when another writer got there first.
func (s *Service) update(ctx context.Context, call *Call, id string, change func(m *managed) error) (*managed, error) {
	const attempts = 5
	for i := 0; ; i++ {
		m, err := s.load(ctx, call, id)
		if err != nil {
			return nil, err
		}
		if err := change(m); err != nil {
			return nil, err
		}
		m.attrs.Set(attr.LastChangeDate, attr.Date(s.now()))
		if err := m.encodeAttrs(); err != nil {
			return nil, err
		}
		err = s.store.UpdateObject(ctx, m.rec)
		if errors.Is(err, store.ErrConflict) && i+1 < attempts {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", id, err)
		}
		return m, nil
	}
}

// setState records a lifecycle state in both the column and the attribute.
func (m *managed) setState(st object.State) {
	m.rec.State = uint32(st)
	m.attrs.Set(attr.State, attr.Enum(uint32(st)))
}
