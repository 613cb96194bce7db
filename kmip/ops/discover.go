package ops

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// discoverVersions implements Discover Versions (KMIP 1.4 section 4.26):
// the versions in the client's list that the server also speaks, in the
// client's order; all of the server's, newest first, for an empty list.
func (s *Service) discoverVersions(_ context.Context, call *Call) (any, error) {
	var req message.DiscoverVersionsRequest
	if len(call.Payload) > 0 {
		if err := decode(call, &req); err != nil {
			return nil, err
		}
	}
	if len(req.ProtocolVersion) == 0 {
		return &message.DiscoverVersionsResponse{ProtocolVersion: message.Supported}, nil
	}
	resp := &message.DiscoverVersionsResponse{}
	for _, v := range req.ProtocolVersion {
		if v.IsSupported() {
			resp.ProtocolVersion = append(resp.ProtocolVersion, v)
		}
	}
	return resp, nil
}
