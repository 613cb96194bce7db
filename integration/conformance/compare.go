package conformance

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
)

// TimeTolerance is how far a time the server returns may be from what
// $NOW (or $NOW-3600...) means at the moment of the request: wide enough
// for a slow run, narrow enough to tell $NOW from $NOW-3600.
const TimeTolerance = 10 * time.Minute

// Difference is the first place where a real response differs from the
// one a vector expects.
type Difference struct {
	// Path leads to the item: "BatchItem[0]/ResponsePayload/Attribute[3]/AttributeValue".
	Path string
	// Message says what differs: "want PreActive, got Active".
	Message string
}

func (d *Difference) Error() string {
	if d.Path == "" {
		return d.Message
	}
	return d.Path + ": " + d.Message
}

// Comparer compares real responses with the vectors' expectations. The
// walk is strict (tag, type, value and order of every item, structures
// recursively) except for what the server legitimately chooses:
//
//   - placeholders: $UNIQUE_IDENTIFIER_n (and any other $NAME) bind to the
//     value of their first sight and must equal it afterwards; $NOW,
//     $NOW-3600... match times within TimeTolerance of what they mean;
//   - the Time Stamp of the header; the Server and Client Correlation
//     Values (present or not, any value); other correlation values (any
//     value);
//   - the Digest value and the key material of objects whose material the
//     server generated;
//   - the Result Message: its presence only (the text is the vendor's);
//   - the Query response: the operations and object types listed must
//     include those the vector lists, in any order; vendor identification
//     and server information are the vendor's; other items may be added;
//   - the names of a Get Attribute List response: a set (KMIP gives them
//     no order); all missing and unexpected names are reported;
//   - the attributes of a Get Attributes response: a set, each expected
//     instance compared with the real one of the same name (and index);
//   - in both, attributes whose presence is the implementation's choice
//     (serverChosen: the Random Number Generator a server records, the
//     Lease Time it grants, the protection flags and 2.x identifiers it
//     keeps) may be present when the vector lacks them; one the vector
//     holds must be there. The Random Number Generator's value is the
//     server's;
//   - in recorded traces (the 1.0 to 1.2 files, whose responses hold the
//     times of the run that made them), the times the server chose.
//
// Masks are compared as numbers ("Encrypt Decrypt" = "Decrypt Encrypt").
type Comparer struct {
	Bindings *Bindings
	// Now is when the request was sent.
	Now time.Time
	// Recorded is set for recorded traces: a concrete time in a response
	// that no request sent is the server's choice.
	Recorded bool
	// Request is the request message the response answers (nil: unknown);
	// the cryptographic rules (crypto.go) read it.
	Request *Node
}

// scope is what the walk knows about where it is.
type scope struct {
	path []string
	// random: the object of this batch item holds generated material.
	random bool
	// query: inside the payload of a Query response.
	query bool
	// attribute is the name of the 1.x Attribute being walked, for
	// messages; attrTag the tag of that attribute, whose names its
	// value's enumeration or mask takes.
	attribute string
	attrTag   ttlv.Tag
	// unordered: the repeated items of this payload form a set (Get
	// Attribute List).
	unordered bool
	// attributes: the payload is a Get Attributes answer.
	attributes bool
	// request is the request's batch item (nil: unknown); randomized,
	// serverIV: see crypto.go.
	request                             *Node
	randomized, serverIV, signed, maced bool
}

func (s scope) with(segment string) scope {
	s.path = append(append([]string(nil), s.path...), segment)
	return s
}

func (s scope) diff(format string, args ...any) *Difference {
	msg := fmt.Sprintf(format, args...)
	if s.attribute != "" {
		msg += fmt.Sprintf(" (attribute %q)", s.attribute)
	}
	return &Difference{Path: strings.Join(s.path, "/"), Message: msg}
}

// Message compares a real Response Message with the expected one, binding
// placeholders on first sight. It returns the first difference, or nil.
func (c *Comparer) Message(want, got *Node) *Difference {
	if got.Tag != kmip14.TagResponseMessage {
		return &Difference{Message: fmt.Sprintf("want a ResponseMessage, got %s", got.Name())}
	}
	wantItems, gotItems := want.ChildrenOf(kmip14.TagBatchItem), got.ChildrenOf(kmip14.TagBatchItem)
	if d := c.structure(scope{}, want.Child(kmip14.TagResponseHeader), got.Child(kmip14.TagResponseHeader), "ResponseHeader"); d != nil {
		return d
	}
	for i, w := range wantItems {
		s := scope{path: []string{fmt.Sprintf("BatchItem[%d]", i)}}
		if c.Request != nil && i < len(c.Request.ChildrenOf(kmip14.TagBatchItem)) {
			s.request = c.Request.ChildrenOf(kmip14.TagBatchItem)[i]
		}
		if i >= len(gotItems) {
			return s.diff("missing: the response has %d batch items, want %d", len(gotItems), len(wantItems))
		}
		if d := c.batchItem(s, w, gotItems[i]); d != nil {
			return d
		}
	}
	if len(gotItems) > len(wantItems) {
		return &Difference{Path: fmt.Sprintf("BatchItem[%d]", len(wantItems)), Message: fmt.Sprintf("unexpected: the response has %d batch items, want %d", len(gotItems), len(wantItems))}
	}
	var other []string
	for _, ch := range got.Children {
		if ch.Tag != kmip14.TagResponseHeader && ch.Tag != kmip14.TagBatchItem {
			other = append(other, ch.Name())
		}
	}
	if len(other) > 0 {
		return &Difference{Message: "unexpected items in the message: " + strings.Join(other, ", ")}
	}
	return nil
}

// batchItem compares one response batch item: result first (a failed
// item is best described by its reason and message), then the rest.
func (c *Comparer) batchItem(s scope, want, got *Node) *Difference {
	ws, gs := want.Child(kmip14.TagResultStatus), got.Child(kmip14.TagResultStatus)
	if ws != nil && gs != nil && !sameValue(ws.Type, ws.Value, gs.Value) {
		msg := fmt.Sprintf("want %s, got %s", show(ws), show(gs))
		if r := got.Child(kmip14.TagResultReason); r != nil {
			msg += " " + show(r)
		}
		if m := got.Child(kmip14.TagResultMessage); m != nil {
			msg += fmt.Sprintf(" %q", m.Value)
		}
		if w := want.Child(kmip14.TagResultReason); w != nil {
			msg += "; want reason " + show(w)
		}
		return s.with("ResultStatus").diff("%s", msg)
	}
	op, _ := want.Child(kmip14.TagOperation).valueOrNil().(uint32)
	if payload := got.Child(kmip14.TagResponsePayload); payload != nil {
		for _, id := range payload.ChildrenOf(kmip14.TagUniqueIdentifier) {
			if v, ok := id.Value.(string); ok && c.Bindings.random[v] {
				s.random = true
			}
		}
	}
	s = c.cryptoScope(s, op, got)
	s.query = op == uint32(kmip14.OperationQuery)
	s.unordered = op == uint32(kmip14.OperationGetAttributeList)
	s.attributes = op == uint32(kmip14.OperationGetAttributes)
	return c.children(s, want, got)
}

// serverChosen are the attributes a server sets or not as it implements
// them; the vectors were recorded on servers that made different choices
// (TL-M-3-14 lists no Sensitive, SKFF-M-9-14 does).
var serverChosen = map[string]bool{
	"Random Number Generator": true, "Lease Time": true,
	"Sensitive": true, "Always Sensitive": true, "Extractable": true, "Never Extractable": true,
	"Short Unique Identifier": true, "Key Format Type": true, "Protection Storage Mask": true,
}

// attributeKey names an attribute item of a Get Attributes response: the
// 1.x Attribute's name and index, or the 2.x item's attribute name (and the
// vendor attribute's name).
func attributeKey(n *Node) (name string, index int32) {
	if n.Tag == kmip14.TagAttribute {
		if v, ok := n.Child(tagAttributeName).valueOrNil().(string); ok {
			name = v
		}
		if vid, ok := n.Child(kmip14.TagVendorIdentification).valueOrNil().(string); ok && vid != "" {
			name = vid + "-" + name
		}
		if i, ok := n.Child(kmip14.TagAttributeIndex).valueOrNil().(int32); ok {
			index = i
		}
		return name, index
	}
	return strings.Join(strings.Fields(ttlv.DefaultRegistry.FormatTagCanonical(n.Tag)), " "), 0
}

// attributeSet compares the attribute items of a Get Attributes answer as
// a set: every expected instance must be there and equal (with the usual
// wildcards); an extra one is allowed only if serverChosen.
func (c *Comparer) attributeSet(s scope, want, got []*Node) *Difference {
	type key struct {
		name  string
		index int32
		nth   int
	}
	keyed := func(items []*Node) (map[key]*Node, []key) {
		m, order, seen := map[key]*Node{}, []key(nil), map[key]int{}
		for _, n := range items {
			name, index := attributeKey(n)
			k := key{name: name, index: index}
			k.nth = seen[k]
			seen[key{name: name, index: index}]++
			m[k] = n
			order = append(order, k)
		}
		return m, order
	}
	gotBy, gotOrder := keyed(got)
	wantBy, wantOrder := keyed(want)
	for _, k := range wantOrder {
		w, g := wantBy[k], gotBy[k]
		ss := s.with(fmt.Sprintf("%s[%s]", w.Name(), k.name))
		ss.attribute, ss.attrTag = k.name, attributeTag(k.name)
		if g == nil {
			return ss.diff("missing (want %s)", describe(w))
		}
		if k.name == "Random Number Generator" {
			continue
		}
		if d := c.item(ss, w, g); d != nil {
			return d
		}
	}
	for _, k := range gotOrder {
		if _, expected := wantBy[k]; !expected && !serverChosen[k.name] {
			return s.with(k.name).diff("unexpected attribute %s", describeShort(gotBy[k]))
		}
	}
	return nil
}

// structure compares two structures (either may be nil when absent).
func (c *Comparer) structure(s scope, want, got *Node, name string) *Difference {
	s = s.with(name)
	switch {
	case want == nil && got == nil:
		return nil
	case want == nil:
		return s.diff("unexpected")
	case got == nil:
		return s.diff("missing")
	}
	return c.children(s, want, got)
}

// optional are the items that either side may hold or not, with any
// value.
var optional = map[ttlv.Tag]bool{
	kmip14.TagServerCorrelationValue: true,
	kmip14.TagClientCorrelationValue: true,
}

// vendorValues are the items whose value is the server's choice besides
// the header's Time Stamp and the Result Message text: the correlation
// values of asynchronous and multi-part operations.
var vendorValues = map[ttlv.Tag]bool{
	kmip14.TagAsynchronousCorrelationValue: true,
	kmip14.TagCorrelationValue:             true,
}

// children compares the children of two structures, in order.
func (c *Comparer) children(s scope, want, got *Node) *Difference {
	if s.query && want.Tag == kmip14.TagResponsePayload {
		return c.queryPayload(s, want, got)
	}
	if s.unordered && want.Tag == kmip14.TagResponsePayload {
		return c.unorderedPayload(s, want, got)
	}
	if s.attributes {
		switch {
		case want.Tag == kmip14.TagResponsePayload && want.Child(kmip20.TagAttributes) == nil:
			// 1.x: Attribute items after the Unique Identifier.
			s.attributes = false
			if d := c.children(s, onlyNot(want, kmip14.TagAttribute), onlyNot(got, kmip14.TagAttribute)); d != nil {
				return d
			}
			return c.attributeSet(s, want.ChildrenOf(kmip14.TagAttribute), got.ChildrenOf(kmip14.TagAttribute))
		case want.Tag == kmip20.TagAttributes:
			return c.attributeSet(s, want.Children, got.Children)
		}
	}
	if want.Tag == kmip14.TagAttribute {
		if n := want.Child(tagAttributeName); n != nil {
			if name, ok := n.Value.(string); ok {
				s.attribute, s.attrTag = name, attributeTag(name)
			}
		}
	}
	wantCount, gotCount := map[ttlv.Tag]int{}, map[ttlv.Tag]int{}
	for _, w := range want.Children {
		wantCount[w.Tag]++
	}
	for _, g := range got.Children {
		gotCount[g.Tag]++
	}
	seen := map[ttlv.Tag]int{}
	segment := func(n *Node) string {
		i := seen[n.Tag]
		seen[n.Tag]++
		if wantCount[n.Tag] > 1 || gotCount[n.Tag] > 1 || n.Tag == kmip14.TagBatchItem {
			return fmt.Sprintf("%s[%d]", n.Name(), i)
		}
		return n.Name()
	}
	wi, gi := 0, 0
	for wi < len(want.Children) || gi < len(got.Children) {
		var w, g *Node
		if wi < len(want.Children) {
			w = want.Children[wi]
		}
		if gi < len(got.Children) {
			g = got.Children[gi]
		}
		switch {
		case w != nil && optional[w.Tag] && (g == nil || g.Tag != w.Tag):
			wi++
			continue
		case g != nil && optional[g.Tag] && (w == nil || w.Tag != g.Tag):
			gi++
			continue
		case w != nil && w.Tag == kmip14.TagResultMessage && (g == nil || g.Tag != w.Tag):
			return s.with(w.Name()).diff("missing (want a Result Message)")
		case w == nil:
			return s.with(segment(g)).diff("unexpected %s", describe(g))
		case g == nil:
			return s.with(segment(w)).diff("missing (want %s)", describe(w))
		case w.Tag != g.Tag:
			return s.with(segment(w)).diff("want %s, got %s", describe(w), describe(g))
		}
		ss := s.with(segment(w))
		wi++
		gi++
		if d := c.item(ss, w, g); d != nil {
			return d
		}
	}
	return nil
}

// item compares two items of the same tag.
func (c *Comparer) item(s scope, want, got *Node) *Difference {
	if want.Type != got.Type {
		return s.diff("want type %s, got type %s", want.Type, got.Type)
	}
	if want.Type == ttlv.TypeStructure {
		return c.children(s, want, got)
	}
	if d, done := c.cryptoItem(s, want, got); done {
		return d
	}
	switch {
	case want.Tag == kmip14.TagTimeStamp, want.Tag == kmip14.TagResultMessage, optional[want.Tag]:
		return nil
	case want.Placeholder != "":
		// Before the wildcards below: $KEY_MATERIAL_0 or
		// $CORRELATION_VALUE bind generated values for later requests.
		return c.placeholder(s, want, got)
	case vendorValues[want.Tag]:
		return nil
	case s.random && (want.Tag == kmip14.TagDigestValue || under(s, "KeyValue")):
		return nil
	}
	if t, ok := want.Value.(time.Time); ok && c.Recorded && !c.Bindings.sentTimes[t.Unix()] {
		return nil
	}
	if !sameValue(want.Type, want.Value, got.Value) {
		tag := want.Tag
		if tag == tagAttributeValue && s.attrTag != ttlv.TagNone {
			tag = s.attrTag
		}
		return s.diff("want %s, got %s", showAs(want, tag), showAs(got, tag))
	}
	return nil
}

// under reports whether the walk is inside an item named name.
func under(s scope, name string) bool {
	for _, p := range s.path {
		if p == name || strings.HasPrefix(p, name+"[") {
			return true
		}
	}
	return false
}

// placeholder matches a real value with an expected placeholder.
func (c *Comparer) placeholder(s scope, want, got *Node) *Difference {
	if d, ok := nowOffset(want.Placeholder); ok {
		t, isTime := got.Value.(time.Time)
		if !isTime {
			return s.diff("want a time ($%s), got %s", want.Placeholder, show(got))
		}
		mean := c.Now.Add(d)
		if off := t.Sub(mean); off > TimeTolerance || off < -TimeTolerance {
			return s.diff("want $%s (about %s), got %s", want.Placeholder, mean.UTC().Format(time.RFC3339), show(got))
		}
		return nil
	}
	if bound, ok := c.Bindings.Value(want.Placeholder); ok {
		if bound.Type != got.Type || !sameValue(got.Type, bound.Value, got.Value) {
			return s.diff("want $%s = %s, got %s", want.Placeholder, show(bound), show(got))
		}
		return nil
	}
	c.Bindings.Bind(want.Placeholder, got)
	return nil
}

// describe names an item for messages: its tag, and its value for a
// leaf.
func describe(n *Node) string {
	if n.Type == ttlv.TypeStructure {
		if name, ok := n.Child(tagAttributeName).valueOrNil().(string); ok {
			return fmt.Sprintf("%s %q", n.Name(), name)
		}
		return n.Name()
	}
	return n.Name() + " " + show(n)
}

// show renders a value for messages.
func show(n *Node) string { return showAs(n, n.Tag) }

// showAs renders a value whose enumeration or mask names are those of
// tag.
func showAs(n *Node, tag ttlv.Tag) string {
	if n.Placeholder != "" {
		return "$" + n.Placeholder
	}
	switch v := n.Value.(type) {
	case uint32:
		return formatEnum(tag, v)
	case int32:
		return formatInt(tag, v)
	case []byte:
		return hex.EncodeToString(v)
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case nil:
		return n.Type.String()
	}
	return fmt.Sprint(n.Value)
}

// queryPayload compares a Query response payload: every Operation and
// Object Type the vector lists must be there, in any order, others may
// be added; Vendor Identification and Server Information are the
// vendor's; other items the vector lists must be there with their value
// (in any order), others may be added.
func (c *Comparer) queryPayload(s scope, want, got *Node) *Difference {
	for _, w := range want.Children {
		switch w.Tag {
		case kmip14.TagVendorIdentification, kmip14.TagServerInformation:
			if got.Child(w.Tag) == nil {
				return s.with(w.Name()).diff("missing")
			}
			continue
		}
		found := false
		for _, g := range got.ChildrenOf(w.Tag) {
			// A trial comparison on a copy of the bindings would be
			// needed for placeholders; Query responses have none.
			if (&Comparer{Bindings: NewBindings(), Now: c.Now}).item(s.with(w.Name()), w, g) == nil {
				found = true
				break
			}
		}
		if !found {
			return s.with(w.Name()).diff("missing %s (the server lists %d %s items)", describe(w), len(got.ChildrenOf(w.Tag)), w.Name())
		}
	}
	return nil
}

// unorderedPayload compares a payload whose repeated items form a set
// (the names of a Get Attribute List response: KMIP gives them no
// order): the single items in order, as usual, then the repeated ones
// as sets, reporting all that are missing and all that are unexpected.
func (c *Comparer) unorderedPayload(s scope, want, got *Node) *Difference {
	repeated := func(n *Node) map[ttlv.Tag]bool {
		m := map[ttlv.Tag]bool{}
		for _, ch := range n.Children {
			if ch.Tag != kmip14.TagUniqueIdentifier && ch.Placeholder == "" {
				m[ch.Tag] = true
			}
		}
		return m
	}
	tags := repeated(want)
	for t := range repeated(got) {
		tags[t] = true
	}
	split := func(n *Node) (single *Node, sets map[ttlv.Tag][]*Node) {
		single, sets = &Node{Tag: n.Tag, Type: n.Type}, map[ttlv.Tag][]*Node{}
		for _, ch := range n.Children {
			if tags[ch.Tag] {
				sets[ch.Tag] = append(sets[ch.Tag], ch)
			} else {
				single.Children = append(single.Children, ch)
			}
		}
		return single, sets
	}
	wantSingle, wantSets := split(want)
	gotSingle, gotSets := split(got)
	s.unordered = false
	if d := c.children(s, wantSingle, gotSingle); d != nil {
		return d
	}
	var ordered []ttlv.Tag
	for _, ch := range want.Children {
		if tags[ch.Tag] && !slices.Contains(ordered, ch.Tag) {
			ordered = append(ordered, ch.Tag)
		}
	}
	for _, ch := range got.Children {
		if tags[ch.Tag] && !slices.Contains(ordered, ch.Tag) {
			ordered = append(ordered, ch.Tag)
		}
	}
	for _, tag := range ordered {
		key := func(n *Node) string { return strings.TrimSpace(n.XML()) }
		left := map[string]int{}
		for _, g := range gotSets[tag] {
			left[key(g)]++
		}
		var missing, unexpected []string
		for _, w := range wantSets[tag] {
			if left[key(w)] > 0 {
				left[key(w)]--
				continue
			}
			missing = append(missing, describeShort(w))
		}
		for _, g := range gotSets[tag] {
			if left[key(g)] > 0 {
				left[key(g)]--
				if name, ok := g.Value.(string); ok && tag == tagAttributeName && serverChosen[name] {
					continue // an attribute this server keeps and the vector's did not
				}
				unexpected = append(unexpected, describeShort(g))
			}
		}
		if len(missing)+len(unexpected) == 0 {
			continue
		}
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(unexpected) > 0 {
			parts = append(parts, "unexpected "+strings.Join(unexpected, ", "))
		}
		return s.with(tagName(tag)).diff("%s", strings.Join(parts, "; "))
	}
	return nil
}

// describeShort renders an item's value, or its XML for a structure.
func describeShort(n *Node) string {
	if n.Type == ttlv.TypeStructure {
		return strings.Join(strings.Fields(n.XML()), "")
	}
	return show(n)
}

// onlyNot returns a copy of n without its children tagged tag.
func onlyNot(n *Node, tag ttlv.Tag) *Node {
	out := &Node{Tag: n.Tag, Type: n.Type}
	for _, ch := range n.Children {
		if ch.Tag != tag {
			out.Children = append(out.Children, ch)
		}
	}
	return out
}
