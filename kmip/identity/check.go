package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// credentialCheck checks the KMIP Credential of each request of one
// connection against its client's. The slow hash runs once per
// connection and credential: a credential that passed is remembered (its
// SHA-256, in this connection's memory only) so that the following
// requests cost a hash, not a key derivation.
type credentialCheck struct {
	id       *Identity
	client   *store.Client
	required bool
	event    audit.Event

	mu       sync.Mutex
	passed   [sha256.Size]byte
	ok       bool
	failures int
}

// maxFailures bounds the wrong credentials one connection may try: past
// it, every request is refused without running the slow hash, so that a
// client cannot use one connection to guess passwords or burn CPU.
const maxFailures = 3

// authentication is the request header's Authentication structure (KMIP
// 1.4 section 2.1.2): one or more Credentials.
type authentication struct {
	Credential []credential
}

type credential struct {
	CredentialType  kmip14.CredentialType
	CredentialValue ttlv.TTLV
}

type usernamePassword struct {
	Username string
	Password string
}

func (c *credentialCheck) check(ctx context.Context, raw ttlv.TTLV) error {
	username, password, found, err := readCredential(raw)
	switch {
	case err != nil:
		return c.fail(ctx, "unreadable Authentication: "+err.Error())
	case !found && c.required:
		return c.fail(ctx, "this tenant requires a KMIP Credential (username and password) in every request")
	case !found:
		return nil
	case c.client.Credential == nil:
		if c.required {
			return c.fail(ctx, "no credential is registered for this client")
		}
		return nil // a credential the client need not send is not checked
	}
	sum := sha256.Sum256([]byte(username + "\x00" + password))
	c.mu.Lock()
	remembered := c.ok && subtle.ConstantTimeCompare(sum[:], c.passed[:]) == 1
	exhausted := c.failures >= maxFailures
	c.mu.Unlock()
	switch {
	case remembered:
		return nil
	case exhausted:
		return c.fail(ctx, "too many wrong credentials on this connection; reconnect")
	}
	if username != c.client.Credential.Username || !CheckPassword(c.client.Credential.Hash, password) {
		c.mu.Lock()
		c.failures++
		c.mu.Unlock()
		return c.fail(ctx, "wrong username or password")
	}
	c.mu.Lock()
	c.passed, c.ok = sum, true
	c.mu.Unlock()
	return nil
}

// readCredential finds the Username and Password credential; found is
// false when the request has no Authentication.
func readCredential(raw ttlv.TTLV) (username, password string, found bool, err error) {
	if len(raw) == 0 {
		return "", "", false, nil
	}
	var a authentication
	if err := message.Unmarshal(raw, &a); err != nil {
		return "", "", false, err
	}
	for _, cr := range a.Credential {
		if cr.CredentialType != kmip14.CredentialTypeUsernameAndPassword || len(cr.CredentialValue) == 0 {
			continue
		}
		var up usernamePassword
		if err := message.Unmarshal(cr.CredentialValue, &up); err != nil {
			return "", "", false, err
		}
		return up.Username, up.Password, true, nil
	}
	return "", "", false, nil
}

func (c *credentialCheck) fail(ctx context.Context, reason string) error {
	ev := c.event
	ev.Operation = "credential"
	return c.id.refuse(ctx, ev, reason)
}
