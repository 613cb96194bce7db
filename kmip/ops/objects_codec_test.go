package ops

import (
	"crypto/sha256"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

// TestRawDigestMatchesReflection: the hand-written Digest value is the
// one gemalto's encoder writes for the same structure.
func TestRawDigestMatchesReflection(t *testing.T) {
	for _, tt := range []struct {
		name     string
		material []byte
		format   kmip14.KeyFormatType
	}{
		{"raw AES-256", make([]byte, 32), kmip14.KeyFormatTypeRaw},
		{"PKCS#8", []byte("not really a key"), kmip14.KeyFormatTypePKCS_8},
		{"empty", nil, kmip14.KeyFormatTypeOpaque},
		{"not a key (no Key Format Type)", []byte("a certificate"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sum := sha256.Sum256(tt.material)
			want, err := attr.Struct(struct {
				HashingAlgorithm kmip14.HashingAlgorithm
				DigestValue      []byte
				KeyFormatType    kmip14.KeyFormatType
			}{kmip14.HashingAlgorithmSHA_256, sum[:], tt.format})
			if tt.format == 0 {
				want, err = attr.Struct(struct {
					HashingAlgorithm kmip14.HashingAlgorithm
					DigestValue      []byte
				}{kmip14.HashingAlgorithmSHA_256, sum[:]})
			}
			require.NoError(t, err)
			got, err := rawDigest(tt.material, tt.format)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}
