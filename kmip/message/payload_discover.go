package message

// DiscoverVersionsRequest is the Discover Versions payload (KMIP 1.4
// section 4.26): the versions the client speaks, preferred first; none
// means "tell me all".
type DiscoverVersionsRequest struct {
	ProtocolVersion []Version
}

// DiscoverVersionsResponse lists the versions both sides speak, in the
// client's order, or all of the server's, newest first.
type DiscoverVersionsResponse struct {
	ProtocolVersion []Version `ttlv:",omitempty"`
}
