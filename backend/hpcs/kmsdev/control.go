package kmsdev

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// The Go API below lets tests and `kmipctl dev kms` act on keys without
// a token (the HTTP API needs one); they do what the matching actions do.

// ErrNoKey is returned by the Go API for an unknown key id.
var ErrNoKey = errors.New("kmsdev: no such key")

// CreateRootKey makes an active root key with random material and returns
// its id.
func (s *Server) CreateRootKey(name string) string {
	now := s.now().UTC()
	v, _ := newVersion(randomBytes(32), now)
	k := &key{id: uuid.NewString(), name: name, keyRing: "default", state: StateActive, created: now, updated: now}
	v.id = k.id
	k.versions = []*version{v}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.id] = k
	s.order = append(s.order, k.id)
	_ = s.save()
	return k.id
}

// RootKeyIDs lists the ids of the root keys that are not destroyed, oldest
// first.
func (s *Server) RootKeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.order {
		if k := s.keys[id]; !k.extractable && k.state != StateDestroyed {
			out = append(out, id)
		}
	}
	return out
}

// SetAccess revokes (false) or restores (true) the API keys' access to the
// instance, as removing the service ID's policy does: IAM still issues
// tokens, and every KMS request answers 401 UNAUTHORIZED_ERR.
func (s *Server) SetAccess(allowed bool) {
	s.mu.Lock()
	s.revoked = !allowed
	s.mu.Unlock()
}

// ForgetTokens invalidates every access token issued so far (as an IAM
// token revoked early): the next KMS request with one answers 401.
func (s *Server) ForgetTokens() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// Rotate adds a new version to a root key (the rotate action).
func (s *Server) Rotate(id string) error { return s.control(id, "rotate") }

// Disable suspends a key (the disable action).
func (s *Server) Disable(id string) error { return s.control(id, "disable") }

// Enable reactivates a disabled key (the enable action).
func (s *Server) Enable(id string) error { return s.control(id, "enable") }

// Delete destroys a key (DELETE /keys/{id}).
func (s *Server) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return ErrNoKey
	}
	k.state = StateDestroyed
	return s.save()
}

// KeyVersions lists a key's version ids, oldest first.
func (s *Server) KeyVersions(id string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, ErrNoKey
	}
	out := make([]string, len(k.versions))
	for i, v := range k.versions {
		out[i] = v.id
	}
	return out, nil
}

func (s *Server) control(id, action string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return ErrNoKey
	}
	if _, _, f := s.act(k, action, actionNames[action], actionJSON{}, false); f != nil {
		return errors.New("kmsdev: " + f.errorMsg)
	}
	return s.save()
}

// --- import token ---

type importToken struct {
	created, expires time.Time
	max, remaining   int
	key              *rsa.PrivateKey
	nonce            []byte
}

// handleCreateImportToken is POST /api/v2/import_token: a transport key
// for secure import, valid for expiration seconds and maxAllowedRetrievals
// retrievals.
func (s *Server) handleCreateImportToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Expiration           int `json:"expiration"`
		MaxAllowedRetrievals int `json:"maxAllowedRetrievals"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req, "Import token could not be created") {
		return
	}
	if req.Expiration <= 0 {
		req.Expiration = 600
	}
	if req.MaxAllowedRetrievals <= 0 {
		req.MaxAllowedRetrievals = 1
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error", "INTERNAL_SERVER_ERR", "key generation failed")
		return
	}
	now := s.now().UTC()
	t := &importToken{created: now, expires: now.Add(time.Duration(req.Expiration) * time.Second),
		max: req.MaxAllowedRetrievals, remaining: req.MaxAllowedRetrievals, key: priv, nonce: randomBytes(12)}
	s.mu.Lock()
	s.imports = t
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"creationDate": t.created, "expirationDate": t.expires,
		"maxAllowedRetrievals": t.max, "remainingRetrievals": t.remaining,
	})
}

// handleGetImportToken is GET /api/v2/import_token: the transport public
// key (base64 of PEM) and the nonce, counting one retrieval.
func (s *Server) handleGetImportToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.imports
	var fail string
	switch {
	case t == nil:
		fail = "none"
	case s.now().After(t.expires) || t.remaining == 0:
		fail = "expired"
	default:
		t.remaining--
	}
	s.mu.Unlock()
	switch fail {
	case "none":
		writeError(w, http.StatusNotFound, "Not Found: Import token could not be retrieved: Please see `reasons` for more details (IMPORT_TOKEN_NOT_FOUND_ERR)",
			"IMPORT_TOKEN_NOT_FOUND_ERR", "No import token exists for this instance")
		return
	case "expired":
		writeError(w, http.StatusConflict, "Conflict: Import token could not be retrieved: Please see `reasons` for more details (IMPORT_TOKEN_EXPIRED_ERR)",
			"IMPORT_TOKEN_EXPIRED_ERR", "The import token has expired")
		return
	}
	der, _ := x509.MarshalPKIXPublicKey(&t.key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	writeJSON(w, http.StatusOK, map[string]any{
		"id": uuid.NewString(), "creationDate": t.created, "expirationDate": t.expires,
		"payload": base64.StdEncoding.EncodeToString(pemKey), "nonce": base64.StdEncoding.EncodeToString(t.nonce),
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
