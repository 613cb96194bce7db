package message_test

import (
	"testing"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// TestServerInformationEncodeMatchesReflection: the hand-written Server
// Information is the reflection encoder's, empty (1.x), full (2.x) and
// partly filled.
func TestServerInformationEncodeMatchesReflection(t *testing.T) {
	for _, info := range []message.ServerInformation{
		{},
		{ServerName: "kmip-adapter", ServerVersion: "1.2.3", ProductName: "kmip-adapter"},
		{ServerVersion: "dev"},
		{ServerName: "a name that needs padding"},
	} {
		want, err := ttlv.Marshal(info)
		require.NoError(t, err)
		assert.Equal(t, []byte(want), []byte(info.Encode()), "%+v", info)
	}
}
