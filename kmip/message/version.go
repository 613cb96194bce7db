package message

import "github.com/kmip-adapter/kmip-adapter/kmip/version"

// Version is a KMIP protocol version (package version).
type Version = version.Version

// The protocol versions this server speaks.
var (
	V1_0 = version.V1_0
	V1_1 = version.V1_1
	V1_2 = version.V1_2
	V1_3 = version.V1_3
	V1_4 = version.V1_4
	V2_0 = version.V2_0
	V2_1 = version.V2_1
)

// Supported lists the versions the server speaks, newest first.
var Supported = version.Supported

// Negotiate picks the version a response to a request in v is encoded in:
// v itself when supported, otherwise the newest supported version of the
// same major, otherwise the newest one older than v (a client that speaks
// 3.0 gets 2.1), and 1.0 for anything older than that.
func Negotiate(v Version) Version {
	if v.IsSupported() {
		return v
	}
	for _, s := range Supported { // newest first
		if s.Major == v.Major && !s.AtLeast(Version{Major: v.Major, Minor: v.Minor + 1}) {
			return s
		}
	}
	for _, s := range Supported {
		if !s.AtLeast(Version{Major: v.Major, Minor: v.Minor + 1}) {
			return s
		}
	}
	return Supported[len(Supported)-1]
}
