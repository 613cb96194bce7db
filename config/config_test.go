package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validPKCS11 is a valid pkcs11 section: the defaults plus a token and a
// PIN source.
func validPKCS11() PKCS11 {
	p := Default().Backend.PKCS11
	p.TokenLabel = "part"
	p.PIN = Secret{Env: "PIN"}
	return p
}

func TestParsePKCS11Member(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		want PKCS11Member
		err  string
	}{
		{"token only", "pkcs11:token=part-a", PKCS11Member{TokenLabel: "part-a"}, ""},
		{"slot only", "pkcs11:slot-id=3", PKCS11Member{SlotID: 3, HasSlotID: true}, ""},
		{"token and slot", "pkcs11:token=a;slot-id=0", PKCS11Member{TokenLabel: "a", HasSlotID: true}, ""},
		{"nothing", "pkcs11:", PKCS11Member{}, ""},
		{"p11-kit member", "pkcs11:token=dev?module-path=/m/1/p11-kit-client.so&x-server-address=unix:path=/m/1/sock",
			PKCS11Member{TokenLabel: "dev", Module: "/m/1/p11-kit-client.so", ServerAddress: "unix:path=/m/1/sock"}, ""},
		{"softhsm2 member", "pkcs11:token=t?x-softhsm2-conf=/d/softhsm2.conf",
			PKCS11Member{TokenLabel: "t", SoftHSM2Conf: "/d/softhsm2.conf"}, ""},
		{"percent-encoded label", "pkcs11:token=my%20partition%3B1", PKCS11Member{TokenLabel: "my partition;1"}, ""},
		{"attribute names ignore case", "pkcs11:Token=a?Module-Path=/x.so", PKCS11Member{TokenLabel: "a", Module: "/x.so"}, ""},
		{"not a URI", "token=a", PKCS11Member{}, "must start with"},
		{"PIN value refused", "pkcs11:token=a?pin-value=1234", PKCS11Member{}, "pin-value is refused"},
		{"PIN source refused", "pkcs11:token=a?pin-source=file:/p", PKCS11Member{}, "pin-source is refused"},
		{"PIN in the path refused", "pkcs11:token=a;pin-value=1234", PKCS11Member{}, "pin-value is refused"},
		{"unknown path attribute", "pkcs11:serial=1", PKCS11Member{}, "path attribute serial is not supported"},
		{"unknown query attribute", "pkcs11:token=a?module-name=softhsm2", PKCS11Member{}, "query attribute module-name is not supported"},
		{"twice", "pkcs11:token=a;token=b", PKCS11Member{}, "token given twice"},
		{"no value", "pkcs11:token", PKCS11Member{}, "not name=value"},
		{"bad slot", "pkcs11:slot-id=x", PKCS11Member{}, `slot-id: "x"`},
		{"long label", "pkcs11:token=" + "0123456789abcdef0123456789abcdefX", PKCS11Member{}, "1 to 32 bytes"},
		{"empty query value", "pkcs11:token=a?module-path=", PKCS11Member{}, "module-path: empty"},
		{"bad escape", "pkcs11:token=a%zz", PKCS11Member{}, "bad percent-encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePKCS11Member(tt.uri)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				assert.NotContains(t, err.Error(), "1234", "a PIN is never quoted")
				return
			}
			require.NoError(t, err)
			tt.want.URI = tt.uri
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMemberSet(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*PKCS11)
		modules []string
		tokens  []string
		err     string
	}{
		{"one partition", func(*PKCS11) {}, []string{"/usr/lib/softhsm/libsofthsm2.so"}, []string{"part"}, ""},
		{"no token", func(p *PKCS11) { p.TokenLabel = "" }, nil, nil, "backend.pkcs11.token_label: required"},
		{"members inherit module and token", func(p *PKCS11) {
			p.Members = []string{"pkcs11:token=a", "pkcs11:?module-path=/b.so"}
		}, []string{"/usr/lib/softhsm/libsofthsm2.so", "/b.so"}, []string{"a", "part"}, ""},
		{"members without token_label", func(p *PKCS11) {
			p.TokenLabel = ""
			p.Members = []string{"pkcs11:token=a", "pkcs11:token=b"}
		}, []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/softhsm/libsofthsm2.so"}, []string{"a", "b"}, ""},
		{"member without token and no default", func(p *PKCS11) {
			p.TokenLabel = ""
			p.Members = []string{"pkcs11:token=a", "pkcs11:?module-path=/b.so"}
		}, nil, nil, "backend.pkcs11.members[2]: no token or slot-id"},
		{"same partition twice", func(p *PKCS11) {
			p.Members = []string{"pkcs11:token=a", "pkcs11:token=a"}
		}, nil, nil, "backend.pkcs11.members[2]: the same partition as backend.pkcs11.members[1]"},
		{"one module file, two servers", func(p *PKCS11) {
			p.Members = []string{
				"pkcs11:token=a?module-path=/c.so&x-server-address=unix:path=/1",
				"pkcs11:token=a;slot-id=2?module-path=/c.so&x-server-address=unix:path=/2",
			}
		}, nil, nil, "give each member its own copy of the module file"},
		{"two copies, two servers", func(p *PKCS11) {
			p.Members = []string{
				"pkcs11:token=a?module-path=/1/c.so&x-server-address=unix:path=/1/s",
				"pkcs11:token=a?module-path=/2/c.so&x-server-address=unix:path=/2/s",
			}
		}, []string{"/1/c.so", "/2/c.so"}, []string{"a", "a"}, ""},
		{"bad member", func(p *PKCS11) { p.Members = []string{"pkcs11:token=a", "nope"} }, nil, nil, "backend.pkcs11.members[2]: not a PKCS#11 URI"},
		{"too many", func(p *PKCS11) {
			for i := range 17 {
				p.Members = append(p.Members, "pkcs11:slot-id="+string(rune('a'+i)))
			}
		}, nil, nil, "at most 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPKCS11()
			tt.modify(&p)
			set, err := p.MemberSet()
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			var modules, tokens []string
			for _, m := range set {
				modules, tokens = append(modules, m.Module), append(tokens, m.TokenLabel)
			}
			assert.Equal(t, tt.modules, modules)
			assert.Equal(t, tt.tokens, tokens)
		})
	}
}

func TestPKCS11Validate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*PKCS11)
		err    string
	}{
		{"defaults", func(*PKCS11) {}, ""},
		{"luna profile", func(p *PKCS11) { p.Mechanisms = Mechanisms{Profile: "luna", RSAOAEPHash: "sha1"} }, ""},
		{"members only", func(p *PKCS11) { p.TokenLabel = ""; p.Members = []string{"pkcs11:token=a"} }, ""},
		{"bad member", func(p *PKCS11) { p.Members = []string{"pkcs11:token=a?pin-value=x"} }, "backend.pkcs11.members[1]: pin-value is refused"},
		{"no PIN source", func(p *PKCS11) { p.PIN = Secret{} }, "backend.pkcs11.pin"},
		{"unknown profile", func(p *PKCS11) { p.Mechanisms.Profile = "thales" }, "backend.pkcs11.mechanisms.profile"},
		{"unknown OAEP hash", func(p *PKCS11) { p.Mechanisms.RSAOAEPHash = "md5" }, "backend.pkcs11.mechanisms.rsa_oaep_hash"},
		{"retry too short", func(p *PKCS11) { p.MemberRetry = 0 }, "backend.pkcs11.member_retry:"},
		{"retry max below retry", func(p *PKCS11) { p.MemberRetryMax = time.Millisecond }, "backend.pkcs11.member_retry_max"},
		{"health too often", func(p *PKCS11) { p.HealthInterval = time.Millisecond }, "backend.pkcs11.health_interval"},
		{"call timeout too short", func(p *PKCS11) { p.CallTimeout = 10 * time.Millisecond }, "backend.pkcs11.call_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPKCS11()
			tt.modify(&p)
			err := p.validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
		})
	}
}
