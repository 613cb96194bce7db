package ops

import (
	"bytes"
	"context"
	"sort"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// checkClientAttributes vets the attributes a client sends with Create or
// Register against the rules table (KMIP 1.4 section 3, 2.1 section 4):
// every one must be a standard attribute or a custom one ("x-" / vendor;
// "y-" is the server's), have a value of its type, be one a client may
// supply (not derived by the server), and appear once unless it is
// multi-instance. Names are rewritten in place to their canonical
// spelling, and the instances of each attribute numbered 0, 1, ... (1.x
// Attribute Index) in the order sent. The reasons are 2.x ones
// (Unsupported Attribute, Attribute Read Only, Invalid Attribute Value,
// Attribute Single Valued); 1.x clients get their fallbacks
// (message.ReasonFor).
func checkClientAttributes(attrs attr.List) error {
	return checkClientAttributesIn(attr.Version{}, attrs)
}

// checkClientAttributesIn is checkClientAttributes for a client of version
// v: an attribute v does not have is unsupported too. The zero version
// skips that test.
func checkClientAttributesIn(v attr.Version, attrs attr.List) error {
	count := map[string]int{}
	for i := range attrs {
		r, err := vetValue(v, &attrs[i])
		if err != nil {
			return err
		}
		if !r.Template {
			return message.Errorf(kmip20.ResultReasonAttributeReadOnly, "attribute %s is set by the server", r.Name)
		}
		if count[r.Name] > 0 && !r.Multi {
			return message.Errorf(kmip20.ResultReasonAttributeSingleValued, "attribute %s may have only one instance", r.Name)
		}
		attrs[i].Index = int32(count[r.Name])
		count[r.Name]++
	}
	return nil
}

// vetValue checks that a client's attribute exists in version v and that
// its value has the right type; it canonicalizes the name.
func vetValue(v attr.Version, a *attr.Attribute) (attr.Rule, error) {
	a.Name = attr.Canonical(a.Name)
	r, ok := attr.Lookup(a.Name)
	if !ok || !r.In(v) {
		if v == (attr.Version{}) {
			return r, message.Errorf(kmip20.ResultReasonUnsupportedAttribute, "attribute %q is not supported", a.Name)
		}
		return r, message.Errorf(kmip20.ResultReasonUnsupportedAttribute, "attribute %q is not supported in KMIP %s", a.Name, v)
	}
	if err := r.CheckValue(a.Value); err != nil {
		return r, message.Errorf(kmip20.ResultReasonInvalidAttributeValue, "%v", err)
	}
	return r, nil
}

// vetWrite checks an attribute that a client adds, modifies or sets in
// version v: it must exist in v, be one clients may change (not Read
// Only), and have a value of its type.
func vetWrite(v attr.Version, a *attr.Attribute) (attr.Rule, error) {
	r, err := vetValue(v, a)
	if err != nil {
		return r, err
	}
	if !r.ClientModify {
		return r, message.Errorf(kmip20.ResultReasonAttributeReadOnly, "attribute %s is read only", r.Name)
	}
	return r, nil
}

// vetName checks that name is an attribute of version v that a client
// may refer to in a change (Delete Attribute), canonicalizing it.
func vetName(v attr.Version, name string) (attr.Rule, error) {
	name = attr.Canonical(name)
	r, ok := attr.Lookup(name)
	if !ok || !r.In(v) {
		return r, message.Errorf(kmip20.ResultReasonUnsupportedAttribute, "attribute %q is not supported in KMIP %s", name, v)
	}
	return r, nil
}

// dateStates are the states in which a client may set or change a
// lifecycle date (KMIP 1.4 sections 3.24-3.27: Activation Date only while
// Pre-Active; the others while Pre-Active or Active). The OASIS vectors
// answer a change of the Activation Date of an Active key with Wrong Key
// Lifecycle State (2.x) and Permission Denied (1.x).
var dateStates = map[string][]object.State{
	attr.ActivationDate:   {object.StatePreActive},
	attr.ProcessStartDate: {object.StatePreActive, object.StateActive},
	attr.ProtectStopDate:  {object.StatePreActive, object.StateActive},
	attr.DeactivationDate: {object.StatePreActive, object.StateActive},
}

// checkState refuses a change of a lifecycle date in a state that does not
// allow it.
func checkState(m *managed, name string) error {
	states, ok := dateStates[name]
	if !ok {
		return nil
	}
	st := object.State(m.rec.State)
	for _, s := range states {
		if s == st {
			return nil
		}
	}
	return message.Errorf(kmip20.ResultReasonWrongKeyLifecycleState, "%s cannot change in state %s", name, st)
}

// checkUniqueName refuses a Name that another object of the tenant
// already has (2.x Non Unique Name Attribute; KMIP 1.4
// section 3.2: a Name is unique within the key management domain).
func (s *Service) checkUniqueName(ctx context.Context, call *Call, id string, a attr.Attribute) error {
	if a.Name != attr.Name {
		return nil
	}
	n, err := a.NameValue()
	if err != nil {
		return message.Errorf(kmip20.ResultReasonInvalidAttributeValue, "%v", err)
	}
	others, err := s.db(ctx).ListObjects(ctx, store.ListQuery{TenantID: call.Tenant, Name: n.NameValue, Limit: 2})
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != id {
			return message.Errorf(kmip20.ResultReasonNonUniqueNameAttribute, "name %q belongs to another object", n.NameValue)
		}
	}
	return nil
}

// nameTaken reports whether the object already has a Name with the same
// Name Value as a (other than the instance at skip, -1 for none).
func nameTaken(m *managed, a attr.Attribute, skip int) bool {
	if a.Name != attr.Name {
		return false
	}
	n, err := a.NameValue()
	if err != nil {
		return false
	}
	for i, b := range m.attrs {
		if i == skip || b.Name != attr.Name {
			continue
		}
		if o, err := b.NameValue(); err == nil && o.NameValue == n.NameValue {
			return true
		}
	}
	return false
}

// instance finds the position of an attribute's instance in the list: by
// 1.x index, or (value != nil) by 2.x value. It returns -1 when missing.
func instance(l attr.List, name string, index int32, value []byte) int {
	for i, a := range l {
		if a.Name != name {
			continue
		}
		if value != nil {
			if bytes.Equal(a.Value, value) {
				return i
			}
			continue
		}
		if a.Index == index {
			return i
		}
	}
	return -1
}

// notFound is the error for a missing attribute instance.
func notFound(l attr.List, name string) error {
	if len(l.All(name)) == 0 {
		return message.Errorf(kmip20.ResultReasonAttributeNotFound, "the object has no %s", name)
	}
	return message.Errorf(kmip20.ResultReasonAttributeInstanceNotFound, "the object has no such instance of %s", name)
}

// leading are the attributes answers list first, after the custom ones,
// as the OASIS vectors show; the others follow by name.
var leading = []string{attr.UniqueIdentifier, attr.ShortUniqueIdentifier, attr.ObjectType, attr.CryptographicAlgorithm, attr.CryptographicLength}

// displayOrder orders an object's attributes for Get Attributes and Get
// Attribute List: custom attributes first (in the order they were added,
// or by name when sortCustom), then Unique Identifier, Object Type,
// Cryptographic Algorithm and Length, then the rest by name; instances of
// one attribute stay together in index order.
func displayOrder(l attr.List, sortCustom bool) attr.List {
	rank := func(name string) int {
		if attr.IsCustom(name) {
			return 0
		}
		for i, n := range leading {
			if n == name {
				return 1 + i
			}
		}
		return 1 + len(leading)
	}
	first := map[string]int{}
	for i, a := range l {
		if _, seen := first[a.Name]; !seen {
			first[a.Name] = i
		}
	}
	out := append(attr.List(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ra, rb := rank(a.Name), rank(b.Name)
		switch {
		case ra != rb:
			return ra < rb
		case a.Name == b.Name:
			return a.Index < b.Index
		case ra == 0 && !sortCustom:
			return first[a.Name] < first[b.Name]
		default:
			return a.Name < b.Name
		}
	})
	return out
}

// requestAttributes reads the attributes of a Create, Register or Re-key
// request: a 2.x client's Attributes, or a 1.x Template-Attribute (which
// some 2.x clients, ovh/kmip-go among them, still send), whose Names refer
// to registered Templates (KMIP 1.4 section 2.1.8). The
// templates' attributes come first, each template's replacing those of
// the same name in the ones before; the request's own attributes replace
// them all. A template's own Name is not passed on.
func (s *Service) requestAttributes(ctx context.Context, call *Call, templateAttribute, attributes ttlv.TTLV) (attr.List, error) {
	if len(attributes) > 0 || len(templateAttribute) == 0 {
		return message.DecodeAttributes(attributes)
	}
	var (
		templates []string
		own       []ttlv.TTLV
	)
	if templateAttribute.Type() != ttlv.TypeStructure {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Template-Attribute is a %s, not a structure", templateAttribute.Type())
	}
	for _, c := range attr.Children(templateAttribute) {
		if c.Tag() != kmip14.TagName {
			own = append(own, c)
			continue
		}
		var n attr.NameValue
		if err := wire.Decode(c, &n); err != nil || n.NameValue == "" {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "a template reference must be a Name")
		}
		templates = append(templates, n.NameValue)
	}
	explicit, err := message.DecodeAttributes(attr.Structure(kmip14.TagTemplateAttribute, own...))
	if err != nil {
		return nil, err
	}
	if len(templates) == 0 {
		return explicit, nil
	}
	var merged attr.List
	for _, name := range templates {
		list, err := s.templateAttributes(ctx, call, name)
		if err != nil {
			return nil, err
		}
		list.Delete(attr.Name)
		merged = overlay(merged, list)
	}
	return overlay(merged, explicit), nil
}

// overlay returns base with every attribute that top has replaced by
// top's instances.
func overlay(base, top attr.List) attr.List {
	out := make(attr.List, 0, len(base)+len(top))
	for _, a := range base {
		if _, replaced := top.Get(a.Name); !replaced {
			out = append(out, a)
		}
	}
	return append(out, top...)
}
