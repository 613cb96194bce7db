package wire

import "github.com/gemalto/kmip-go/ttlv"

// CheckFirst checks the item at the start of b exactly as Decode does
// before decoding (bytes after it are not looked at) and returns it. The
// hand-written decoders of the hot paths start from it.
func CheckFirst(b []byte) (ttlv.TTLV, error) {
	var work int
	rest, err := checkItem(b, 0, &work)
	if err != nil {
		return nil, err
	}
	return ttlv.TTLV(b[:len(b)-len(rest)]), nil
}
