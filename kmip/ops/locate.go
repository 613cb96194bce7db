package ops

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// locate implements Locate (KMIP 1.4 section 4.9, 2.1 section 6.1.27).
//
// Every attribute in the request must hold (AND); an object matches an
// attribute when one of its instances does. Scalars compare by exact TTLV
// value (custom and vendor attributes of any type too); a structure
// matches when every field given is present with that value (a Link by
// Linked Object Identifier alone, a Name without Name Type); one instance
// of a date attribute means that date, two mean the range between them;
// Cryptographic Usage Mask matches objects whose mask holds all the bits
// asked for; Usage Limits matches limits at least as large. Objects are
// those of the caller's tenant, on-line ones unless the Storage Status
// Mask says otherwise, never destroyed ones unless the request asks for a
// destroyed State or (2.x) for Destroyed Storage; the newest come first,
// paged by Offset Items and Maximum Items. An attribute the server cannot
// search on is Invalid Field rather than an empty answer.
//
// The store answers Unique Identifier, Object Type, State, Name and the
// attributes of indexedAttributes (and custom ones) from its indexes; the
// other conditions are checked on the candidates those give.
func (s *Service) locate(ctx context.Context, call *Call) (any, error) {
	var req message.LocateRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	filters, err := message.DecodeAttributes(req.Filters())
	if err != nil {
		return nil, err
	}
	q, conds, err := s.locateQuery(call, &req, filters)
	if err != nil {
		return nil, err
	}
	resp := &message.LocateResponse{}
	call.Placeholder = ""
	if q == nil { // the request contradicts itself: nothing can match
		if pagedCount(call, &req) {
			resp.LocatedItems = new(int32)
		}
		return resp, nil
	}
	if len(conds) > 0 {
		q.Filter = func(o *store.Object) bool {
			attrs, err := attr.Unmarshal(o.Attributes)
			if err != nil {
				s.log.Warn().Err(err).Str("tenant", o.TenantID).Str("object", o.ID).Msg("locate: attributes unreadable, object skipped")
				return false
			}
			m := &managed{rec: o, attrs: attrs}
			for _, c := range conds {
				if !c(m) {
					return false
				}
			}
			return true
		}
	}
	// The shared objects (shared.go) come first, when the request names
	// objects.
	var shared, sharedPage []string
	tenantNone := false
	if namesObjects(filters) {
		shared = s.locateShared(ctx, q)
		sharedPage, tenantNone = pageShared(q, shared)
	}
	var objs []*store.Object
	if !tenantNone {
		if objs, err = s.db(ctx).ListObjects(ctx, *q); err != nil {
			return nil, err
		}
	}
	resp.UniqueIdentifier = append(resp.UniqueIdentifier, sharedPage...)
	for _, o := range objs {
		resp.UniqueIdentifier = append(resp.UniqueIdentifier, o.ID)
	}
	if pagedCount(call, &req) {
		n := len(resp.UniqueIdentifier)
		if req.ObjectGroupMember != kmip14.ObjectGroupMemberGroupMemberDefault {
			if n, err = s.db(ctx).CountObjects(ctx, *q); err != nil {
				return nil, err
			}
			n += len(shared)
		}
		located := int32(min(n, 1<<31-1))
		resp.LocatedItems = &located
	}
	// One object found becomes the ID Placeholder of the next items; more
	// (or none) leave it empty, so that they fail instead of acting on an
	// arbitrary object.
	if len(resp.UniqueIdentifier) == 1 {
		call.Placeholder = resp.UniqueIdentifier[0]
	}
	return resp, nil
}

// pagedCount tells whether the answer carries Located Items: the count of
// every match is what a client paging with Maximum Items or Offset Items
// (1.3 and later) needs. Without paging the list is the count, and the
// OASIS test vectors expect no Located Items.
func pagedCount(call *Call, req *message.LocateRequest) bool {
	return call.Version.AtLeast(message.V1_3) && (req.MaximumItems > 0 || req.OffsetItems > 0)
}

// cond is a condition checked on a candidate's record and attributes.
type cond func(m *managed) bool

// locateKind is how a request attribute selects objects.
type locateKind int

const (
	kindExact  locateKind = iota // equal TTLV value
	kindStruct                   // every field given is equal
	kindDate                     // a date, or a range of two dates
	kindMask                     // the object's mask holds every bit asked for
	kindUsageLimits
	kindID    // Unique Identifier: ListQuery.ID
	kindType  // Object Type: ListQuery.ObjectType
	kindState // State: ListQuery.States, with the dates applied
)

// locateSpec describes a standard attribute as a Locate filter.
type locateSpec struct {
	typ  ttlv.Type
	kind locateKind
	// index: the value is kept in store.Object.Index (see indexEntries).
	index bool
	// full lists the fields of an indexed structure: a request structure
	// with exactly these is looked up in the index, others are checked on
	// candidates.
	full []ttlv.Tag
}

// locatable is every standard attribute a client can search on (KMIP 1.4
// section 3, 2.1 section 4). Any other standard name is refused; names
// with a vendor prefix ("x-", "y-", 2.x vendor attributes) are custom
// attributes, searched by exact value and indexed.
var locatable = map[string]locateSpec{
	attr.UniqueIdentifier: {typ: ttlv.TypeTextString, kind: kindID},
	attr.ObjectType:       {typ: ttlv.TypeEnumeration, kind: kindType},
	attr.State:            {typ: ttlv.TypeEnumeration, kind: kindState},

	attr.Name:                          {typ: ttlv.TypeStructure, kind: kindStruct, index: true, full: []ttlv.Tag{kmip14.TagNameValue, kmip14.TagNameType}},
	attr.ObjectGroup:                   {typ: ttlv.TypeTextString, index: true},
	attr.CryptographicAlgorithm:        {typ: ttlv.TypeEnumeration, index: true},
	attr.CryptographicLength:           {typ: ttlv.TypeInteger, index: true},
	"Certificate Type":                 {typ: ttlv.TypeEnumeration, index: true},
	"Application Specific Information": {typ: ttlv.TypeStructure, kind: kindStruct, index: true, full: []ttlv.Tag{kmip14.TagApplicationNamespace, kmip14.TagApplicationData}},
	"Alternative Name":                 {typ: ttlv.TypeStructure, kind: kindStruct, index: true, full: []ttlv.Tag{kmip14.TagAlternativeNameValue, kmip14.TagAlternativeNameType}},
	"Link":                             {typ: ttlv.TypeStructure, kind: kindStruct, index: true, full: []ttlv.Tag{kmip14.TagLinkType, kmip14.TagLinkedObjectIdentifier}},

	attr.CryptographicUsageMask: {typ: ttlv.TypeInteger, kind: kindMask},
	"Usage Limits":              {typ: ttlv.TypeStructure, kind: kindUsageLimits},

	attr.InitialDate:             {typ: ttlv.TypeDateTime, kind: kindDate},
	attr.ActivationDate:          {typ: ttlv.TypeDateTime, kind: kindDate},
	"Process Start Date":         {typ: ttlv.TypeDateTime, kind: kindDate},
	"Protect Stop Date":          {typ: ttlv.TypeDateTime, kind: kindDate},
	"Deactivation Date":          {typ: ttlv.TypeDateTime, kind: kindDate},
	attr.DestroyDate:             {typ: ttlv.TypeDateTime, kind: kindDate},
	"Compromise Occurrence Date": {typ: ttlv.TypeDateTime, kind: kindDate},
	"Compromise Date":            {typ: ttlv.TypeDateTime, kind: kindDate},
	"Archive Date":               {typ: ttlv.TypeDateTime, kind: kindDate},
	attr.LastChangeDate:          {typ: ttlv.TypeDateTime, kind: kindDate},
	"Original Creation Date":     {typ: ttlv.TypeDateTime, kind: kindDate},

	"Operation Policy Name":       {typ: ttlv.TypeTextString},
	"Contact Information":         {typ: ttlv.TypeTextString},
	"PKCS#12 Friendly Name":       {typ: ttlv.TypeTextString},
	"Description":                 {typ: ttlv.TypeTextString},
	"Comment":                     {typ: ttlv.TypeTextString},
	"Short Unique Identifier":     {typ: ttlv.TypeByteString},
	"Certificate Length":          {typ: ttlv.TypeInteger},
	"Digital Signature Algorithm": {typ: ttlv.TypeEnumeration},
	"Key Format Type":             {typ: ttlv.TypeEnumeration},
	"NIST Key Type":               {typ: ttlv.TypeEnumeration},
	"Protection Level":            {typ: ttlv.TypeEnumeration},
	"Fresh":                       {typ: ttlv.TypeBoolean},
	"Key Value Present":           {typ: ttlv.TypeBoolean},
	"Sensitive":                   {typ: ttlv.TypeBoolean},
	"Always Sensitive":            {typ: ttlv.TypeBoolean},
	"Extractable":                 {typ: ttlv.TypeBoolean},
	"Never Extractable":           {typ: ttlv.TypeBoolean},
	"Quantum Safe":                {typ: ttlv.TypeBoolean},
	"Lease Time":                  {typ: ttlv.TypeInterval},
	"Protection Period":           {typ: ttlv.TypeInterval},

	"Cryptographic Parameters":        {typ: ttlv.TypeStructure, kind: kindStruct},
	"Cryptographic Domain Parameters": {typ: ttlv.TypeStructure, kind: kindStruct},
	"X.509 Certificate Identifier":    {typ: ttlv.TypeStructure, kind: kindStruct},
	"X.509 Certificate Subject":       {typ: ttlv.TypeStructure, kind: kindStruct},
	"X.509 Certificate Issuer":        {typ: ttlv.TypeStructure, kind: kindStruct},
	"Certificate Identifier":          {typ: ttlv.TypeStructure, kind: kindStruct},
	"Certificate Subject":             {typ: ttlv.TypeStructure, kind: kindStruct},
	"Certificate Issuer":              {typ: ttlv.TypeStructure, kind: kindStruct},
	attr.Digest:                       {typ: ttlv.TypeStructure, kind: kindStruct},
	"Revocation Reason":               {typ: ttlv.TypeStructure, kind: kindStruct},
	"Key Value Location":              {typ: ttlv.TypeStructure, kind: kindStruct},
	"Random Number Generator":         {typ: ttlv.TypeStructure, kind: kindStruct},
	"Protection Storage Masks":        {typ: ttlv.TypeStructure, kind: kindStruct},
}

// customAttribute tells a custom (1.x "x-"/"y-") or vendor (2.x, read as
// "vendor-Name") attribute: a name that is not standard and has a vendor
// prefix.
func customAttribute(name string) bool {
	_, standard := locatable[name]
	return !standard && strings.Contains(name, "-")
}

// indexedAttribute tells whether an attribute's values are kept in the
// store's index.
func indexedAttribute(name string) bool {
	if spec, ok := locatable[name]; ok {
		return spec.index
	}
	return customAttribute(name)
}

// indexEntries lists the index entries of an attribute list: one per
// distinct value of every indexed attribute, keyed by the attribute name,
// valued by the value's TTLV bytes (a structure with its fields in tag
// order).
func indexEntries(l attr.List) []store.IndexEntry {
	var out []store.IndexEntry
	seen := map[string]bool{}
	for _, a := range l {
		if !indexedAttribute(a.Name) || len(a.Value) == 0 {
			continue
		}
		v := indexValue(a.Value)
		if k := a.Name + "\x00" + string(v); !seen[k] {
			seen[k] = true
			out = append(out, store.IndexEntry{Key: a.Name, Value: v})
		}
	}
	return out
}

// indexValue is the form of a value in the index: a copy of the TTLV item,
// a structure's direct fields put in tag order (stable), so that two
// encodings that differ only in field order meet.
func indexValue(v ttlv.TTLV) []byte {
	if v.Type() != ttlv.TypeStructure {
		return bytes.Clone(v)
	}
	fields := attr.Children(v)
	slices.SortStableFunc(fields, func(a, b ttlv.TTLV) int { return int(a.Tag()) - int(b.Tag()) })
	return attr.Structure(v.Tag(), fields...)
}

// locateQuery turns a Locate request into a store query and the
// conditions left for candidates. A nil query means nothing can match.
func (s *Service) locateQuery(call *Call, req *message.LocateRequest, filters attr.List) (*store.ListQuery, []cond, error) {
	if req.MaximumItems < 0 || req.OffsetItems < 0 {
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "Maximum Items and Offset Items may not be negative")
	}
	q := &store.ListQuery{TenantID: call.Tenant, IDsOnly: true, Limit: int(req.MaximumItems), Offset: int(req.OffsetItems)}
	var conds []cond
	none := false
	// states is the set of stored states an object may be in; nil: any.
	var states []uint32
	restrict := func(allowed ...uint32) {
		if states == nil {
			states = allowed
			return
		}
		states = slices.DeleteFunc(states, func(st uint32) bool { return !slices.Contains(allowed, st) })
		if len(states) == 0 {
			none = true
		}
	}
	stateAsked := false

	// Dates are read per attribute name: one instance or two (a range).
	dates := map[string][]attr.Attribute{}
	var dateOrder []string

	for _, f := range filters {
		spec, standard := locatable[f.Name]
		if !standard && !customAttribute(f.Name) {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "Locate cannot search on attribute %q", f.Name)
		}
		if standard && f.Value.Type() != spec.typ {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "attribute %s is a %s, not a %s", f.Name, spec.typ, f.Value.Type())
		}
		if !standard {
			q.Match = append(q.Match, store.IndexEntry{Key: f.Name, Value: indexValue(f.Value)})
			continue
		}
		switch spec.kind {
		case kindID:
			id := f.Value.ValueTextString()
			if id == "" || q.ID != "" && q.ID != id {
				none = true
			}
			q.ID = id
		case kindType:
			t := uint32(f.Value.ValueEnumeration())
			if t == 0 || q.ObjectType != 0 && q.ObjectType != t {
				none = true
			}
			q.ObjectType = t
		case kindState:
			stateAsked = true
			want := uint32(f.Value.ValueEnumeration())
			stored, moves := storedStates(want)
			restrict(stored...)
			if moves {
				conds = append(conds, func(m *managed) bool { return s.impliedState(m) == want })
			}
		case kindDate:
			if _, ok := dates[f.Name]; !ok {
				dateOrder = append(dateOrder, f.Name)
			}
			dates[f.Name] = append(dates[f.Name], f)
		case kindMask:
			mask := f.Value.ValueInteger()
			conds = append(conds, anyInstance(f.Name, func(a attr.Attribute) bool {
				v, err := a.Int()
				return err == nil && v&mask == mask
			}))
		case kindUsageLimits:
			c, err := usageLimits(f.Value)
			if err != nil {
				return nil, nil, err
			}
			conds = append(conds, c)
		case kindStruct:
			switch {
			case spec.index && hasFields(f.Value, spec.full):
				q.Match = append(q.Match, store.IndexEntry{Key: f.Name, Value: indexValue(f.Value)})
			case f.Name == attr.Name && q.Name == "" && hasFields(f.Value, []ttlv.Tag{kmip14.TagNameValue}) &&
				attr.Children(f.Value)[0].Type() == ttlv.TypeTextString && attr.Children(f.Value)[0].ValueTextString() != "":
				// A Name Value alone: the store's name column.
				q.Name = attr.Children(f.Value)[0].ValueTextString()
			default:
				conds = append(conds, anyInstance(f.Name, fieldsMatch(f.Value)))
			}
		default: // kindExact
			if spec.index {
				q.Match = append(q.Match, store.IndexEntry{Key: f.Name, Value: indexValue(f.Value)})
			} else {
				want := f.Value
				conds = append(conds, anyInstance(f.Name, func(a attr.Attribute) bool { return bytes.Equal(a.Value, want) }))
			}
		}
	}
	for _, name := range dateOrder {
		c, err := dateCond(name, dates[name])
		if err != nil {
			return nil, nil, err
		}
		conds = append(conds, c)
	}

	if err := s.storageFilter(call, req, q, stateAsked, restrict); err != nil {
		return nil, nil, err
	}
	switch req.ObjectGroupMember {
	case 0:
	case kmip14.ObjectGroupMemberGroupMemberFresh:
		// Fresh objects: never served to a client. An object without the
		// Fresh attribute has not been marked as served.
		conds = append(conds, func(m *managed) bool {
			for _, a := range m.attrs.All("Fresh") {
				if a.Value.Type() == ttlv.TypeBoolean && !a.Value.ValueBoolean() {
					return false
				}
			}
			return true
		})
	case kmip14.ObjectGroupMemberGroupMemberDefault:
		// The server's default member of a group is its newest match.
		q.Offset, q.Limit = 0, 1
	default:
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "Object Group Member %s is not supported", req.ObjectGroupMember)
	}
	if none {
		return nil, nil, nil
	}
	q.States = states
	return q, conds, nil
}

// storageFilter applies the Storage Status Mask (on-line only when absent)
// and leaves destroyed objects out unless the request asks for them: with
// the 2.x Destroyed Storage bit, or with a State filter (which then
// decides).
func (s *Service) storageFilter(call *Call, req *message.LocateRequest, q *store.ListQuery, stateAsked bool, restrict func(...uint32)) error {
	mask := req.StorageStatusMask
	if mask == 0 {
		mask = message.StorageOnline
	}
	valid := message.StorageOnline | message.StorageArchival
	if call.Version.AtLeast(message.V2_0) {
		valid |= message.StorageDestroyed
	}
	if mask&^valid != 0 {
		return message.Errorf(kmip20.ResultReasonInvalidField, "Storage Status Mask 0x%x has bits KMIP %s does not define", mask, call.Version)
	}
	online, archived, destroyed := mask&message.StorageOnline != 0, mask&message.StorageArchival != 0, mask&message.StorageDestroyed != 0
	switch {
	case online && archived:
		q.Storage = store.StorageAny
	case online:
		q.Storage = store.StorageOnline
	case archived:
		q.Storage = store.StorageArchived
	default: // Destroyed Storage alone
		restrict(uint32(object.StateDestroyed), uint32(object.StateDestroyedCompromised))
	}
	if !destroyed && !stateAsked {
		q.NotStates = []uint32{uint32(object.StateDestroyed), uint32(object.StateDestroyedCompromised)}
	}
	return nil
}

// storedStates returns the stored states an object in state want may have:
// the dates move an object on when it is loaded (applyDates) and the store
// learns it with the next write, so a Pre-Active object may in fact be
// Active or Deactivated. moves tells whether the dates must be applied to
// decide.
func storedStates(want uint32) (stored []uint32, moves bool) {
	pre, active, deact := uint32(object.StatePreActive), uint32(object.StateActive), uint32(object.StateDeactivated)
	switch want {
	case pre:
		return []uint32{pre}, true
	case active:
		return []uint32{active, pre}, true
	case deact:
		return []uint32{deact, active, pre}, true
	default:
		return []uint32{want}, false
	}
}

// impliedState is the state an object is in once its dates are applied.
func (s *Service) impliedState(m *managed) uint32 {
	c := &managed{rec: &store.Object{State: m.rec.State}, attrs: slices.Clone(m.attrs)}
	s.applyDates(c)
	return c.rec.State
}

// anyInstance holds when one instance of the attribute satisfies ok.
func anyInstance(name string, ok func(a attr.Attribute) bool) cond {
	return func(m *managed) bool {
		return slices.ContainsFunc(m.attrs.All(name), ok)
	}
}

// hasFields tells whether a structure has exactly the given fields, once
// each, in any order.
func hasFields(v ttlv.TTLV, tags []ttlv.Tag) bool {
	fields := attr.Children(v)
	if len(fields) != len(tags) {
		return false
	}
	for _, t := range tags {
		if !slices.ContainsFunc(fields, func(f ttlv.TTLV) bool { return f.Tag() == t }) {
			return false
		}
	}
	return true
}

// fieldsMatch holds for a structure instance that has every field of want
// with the same value.
func fieldsMatch(want ttlv.TTLV) func(a attr.Attribute) bool {
	wanted := attr.Children(want)
	return func(a attr.Attribute) bool {
		if a.Value.Type() != ttlv.TypeStructure {
			return false
		}
		have := attr.Children(a.Value)
		for _, w := range wanted {
			if !slices.ContainsFunc(have, func(h ttlv.TTLV) bool { return bytes.Equal(h, w) }) {
				return false
			}
		}
		return true
	}
}

// dateCond is one date attribute of the request: one instance is that
// date, two are a range, limits included (in either order).
func dateCond(name string, given []attr.Attribute) (cond, error) {
	if len(given) > 2 {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "%s given %d times: one date or two (a range)", name, len(given))
	}
	lo, hi := dateValue(given[0].Value), dateValue(given[len(given)-1].Value)
	if lo > hi {
		lo, hi = hi, lo
	}
	return anyInstance(name, func(a attr.Attribute) bool {
		if a.Value.Type() != ttlv.TypeDateTime {
			return false
		}
		v := dateValue(a.Value)
		return lo <= v && v <= hi
	}), nil
}

// dateValue is a DateTime item's seconds since the epoch.
func dateValue(v ttlv.TTLV) int64 {
	raw := v.ValueRaw()
	if len(raw) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(raw))
}

// usageLimits matches Usage Limits with the same unit and a total and
// count at least those asked for (KMIP 1.4 section 4.9).
func usageLimits(want ttlv.TTLV) (cond, error) {
	var unit ttlv.TTLV
	var total, count *int64
	for _, f := range attr.Children(want) {
		switch {
		case f.Tag() == kmip14.TagUsageLimitsUnit:
			unit = f
		case f.Tag() == kmip14.TagUsageLimitsTotal && f.Type() == ttlv.TypeLongInteger:
			v := f.ValueLongInteger()
			total = &v
		case f.Tag() == kmip14.TagUsageLimitsCount && f.Type() == ttlv.TypeLongInteger:
			v := f.ValueLongInteger()
			count = &v
		default:
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Usage Limits: field %s of type %s is not valid", f.Tag(), f.Type())
		}
	}
	atLeast := func(have []ttlv.TTLV, tag ttlv.Tag, min *int64) bool {
		if min == nil {
			return true
		}
		for _, h := range have {
			if h.Tag() == tag && h.Type() == ttlv.TypeLongInteger && h.ValueLongInteger() >= *min {
				return true
			}
		}
		return false
	}
	return anyInstance("Usage Limits", func(a attr.Attribute) bool {
		if a.Value.Type() != ttlv.TypeStructure {
			return false
		}
		have := attr.Children(a.Value)
		if unit != nil && !slices.ContainsFunc(have, func(h ttlv.TTLV) bool { return bytes.Equal(h, unit) }) {
			return false
		}
		return atLeast(have, kmip14.TagUsageLimitsTotal, total) && atLeast(have, kmip14.TagUsageLimitsCount, count)
	}), nil
}
