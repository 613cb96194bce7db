// Package version is the KMIP protocol version (KMIP 1.4 section 6.1,
// Protocol Version): one type shared by the message model and the
// attribute rules, and the list of versions this server speaks.
package version

import "fmt"

// Version is a KMIP protocol version.
type Version struct {
	Major int32 `ttlv:"ProtocolVersionMajor"`
	Minor int32 `ttlv:"ProtocolVersionMinor"`
}

// The protocol versions this server speaks.
var (
	V1_0 = Version{1, 0}
	V1_1 = Version{1, 1}
	V1_2 = Version{1, 2}
	V1_3 = Version{1, 3}
	V1_4 = Version{1, 4}
	V2_0 = Version{2, 0}
	V2_1 = Version{2, 1}
)

// Supported lists the versions the server speaks, newest first, as
// Discover Versions answers them.
var Supported = []Version{V2_1, V2_0, V1_4, V1_3, V1_2, V1_1, V1_0}

// String is "MAJOR.MINOR". The server names the version of every request
// in its metrics, so the usual ones are made once.
func (v Version) String() string {
	if v.Major >= 0 && int(v.Major) < len(names) && v.Minor >= 0 && int(v.Minor) < len(names[0]) {
		return names[v.Major][v.Minor]
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// names are the strings of versions 0.0 to 2.9.
var names = func() (n [3][10]string) {
	for major := range n {
		for minor := range n[major] {
			n[major][minor] = fmt.Sprintf("%d.%d", major, minor)
		}
	}
	return n
}()

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool {
	return v.Major > o.Major || v.Major == o.Major && v.Minor >= o.Minor
}

// IsSupported reports whether v is one of Supported.
func (v Version) IsSupported() bool {
	for _, s := range Supported {
		if s == v {
			return true
		}
	}
	return false
}
