package conformance

import (
	"fmt"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// What the comparison of the cryptographic profiles' (CS-BC, CS-AC,
// CS-RNG) responses allows besides the general rules of Comparer:
//
//   - the outputs of an operation with a key whose material the server
//     generated (Data, tags, MACs, signatures): the vector's were made with
//     the reference server's key;
//   - the Data of an Encrypt with an asymmetric key (RSA OAEP and PKCS#1
//     v1.5 are randomized) and of RNG Retrieve: any value of the expected
//     length;
//   - the IV/Counter/Nonce a server generates for an Encrypt request that
//     gave none (Random IV), and the Data made with it: any value; the
//     1.3 and 1.4 files write the reference server's values there, while
//     the next request uses $IV_COUNTER_NONCE and $DATA_0, which the 2.x
//     files bind in that response. Those placeholders are bound to the real
//     values here too;
//   - the Signature Data of Sign (PSS and ECDSA are randomized): any
//     value, bound to $SIGNATURE_DATA for the Signature Verify after it,
//     and the MAC Data of MAC, compared and bound to $MAC_DATA, where the
//     1.3 and 1.4 files write values instead of those placeholders.

// cryptoOutputs are the items of a response computed with a key.
var cryptoOutputs = map[ttlv.Tag]bool{
	kmip14.TagData:                       true,
	kmip14.TagAuthenticatedEncryptionTag: true,
	kmip14.TagMACData:                    true,
	kmip14.TagSignatureData:              true,
	kmip14.TagIVCounterNonce:             true,
}

// learnKeys records which objects that a request registered are
// asymmetric keys, from the request and its real response.
func (b *Bindings) learnKeys(req, resp *Node) {
	reqItems, respItems := req.ChildrenOf(kmip14.TagBatchItem), resp.ChildrenOf(kmip14.TagBatchItem)
	for i, item := range reqItems {
		if i >= len(respItems) {
			return
		}
		op, _ := item.Child(kmip14.TagOperation).valueOrNil().(uint32)
		if op != uint32(kmip14.OperationRegister) {
			continue
		}
		t, _ := item.Child(kmip14.TagRequestPayload).Child(kmip14.TagObjectType).valueOrNil().(uint32)
		if t != uint32(kmip14.ObjectTypePublicKey) && t != uint32(kmip14.ObjectTypePrivateKey) {
			continue
		}
		if id, ok := respItems[i].Child(kmip14.TagResponsePayload).Child(kmip14.TagUniqueIdentifier).valueOrNil().(string); ok {
			if b.asymmetric == nil {
				b.asymmetric = map[string]bool{}
			}
			b.asymmetric[id] = true
		}
	}
}

// cryptoScope sets what the cryptographic rules need to know about a
// batch item: its operation and its real response item (and s.request).
func (c *Comparer) cryptoScope(s scope, op uint32, got *Node) scope {
	payload := got.Child(kmip14.TagResponsePayload)
	if payload == nil {
		return s
	}
	id, _ := payload.Child(kmip14.TagUniqueIdentifier).valueOrNil().(string)
	switch op {
	case uint32(kmip14.OperationEncrypt):
		s.randomized = c.Bindings.asymmetric[id]
		if s.request != nil && s.request.Child(kmip14.TagRequestPayload).Child(kmip14.TagIVCounterNonce) == nil && payload.Child(kmip14.TagIVCounterNonce) != nil {
			s.serverIV = true
		}
	case uint32(kmip14.OperationRNGRetrieve):
		s.randomized = true
	case uint32(kmip14.OperationSign):
		s.signed = true
	case uint32(kmip14.OperationMAC):
		s.maced = true
	}
	return s
}

// cryptoItem applies the rules above to one item; done reports that it
// decided.
func (c *Comparer) cryptoItem(s scope, want, got *Node) (d *Difference, done bool) {
	switch {
	case s.random && cryptoOutputs[want.Tag]:
		return nil, true
	case s.serverIV && (want.Tag == kmip14.TagIVCounterNonce || want.Tag == kmip14.TagData):
		if want.Placeholder != "" {
			return nil, false // the 2.x files bind it as usual
		}
		name := "IV_COUNTER_NONCE"
		if want.Tag == kmip14.TagData {
			for i := 0; ; i++ {
				name = fmt.Sprintf("DATA_%d", i)
				if _, bound := c.Bindings.Value(name); !bound {
					break
				}
			}
		}
		c.bindOnce(name, got)
		return nil, true
	case s.signed && want.Tag == kmip14.TagSignatureData && want.Placeholder == "":
		if g, _ := got.Value.([]byte); len(g) == 0 {
			return s.diff("want a signature, got none"), true
		}
		c.bindOnce("SIGNATURE_DATA", got)
		return nil, true
	case s.maced && want.Tag == kmip14.TagMACData && want.Placeholder == "":
		if !sameValue(want.Type, want.Value, got.Value) {
			return s.diff("want %s, got %s", show(want), show(got)), true
		}
		c.bindOnce("MAC_DATA", got)
		return nil, true
	case s.randomized && want.Tag == kmip14.TagData && want.Placeholder == "":
		w, _ := want.Value.([]byte)
		g, _ := got.Value.([]byte)
		if len(w) != len(g) {
			return s.diff("want %d bytes of server-chosen data, got %d", len(w), len(g)), true
		}
		return nil, true
	}
	return nil, false
}

// bindOnce binds a placeholder that the file uses later but that the
// 1.3 and 1.4 files never bind (they write the reference server's value
// where the 2.x files write the placeholder).
func (c *Comparer) bindOnce(name string, got *Node) {
	if _, bound := c.Bindings.Value(name); !bound {
		c.Bindings.Bind(name, got)
	}
}
