package kmsdev

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Key states of the KMS API (NIST SP 800-57 states as Key Protect numbers
// them).
const (
	StatePreActivation = 0
	StateActive        = 1
	StateSuspended     = 2 // disabled
	StateDeactivated   = 3
	StateDestroyed     = 5
)

// Media types the KMS API uses as collection types.
const (
	typeKey       = "application/vnd.ibm.kms.key+json"
	typeError     = "application/vnd.ibm.kms.error+json"
	typeVersion   = "application/vnd.ibm.kms.key.version+json"
	moreInfo      = "https://cloud.ibm.com/apidocs/key-protect"
	grantAPIKey   = "urn:ibm:params:oauth:grant-type:apikey"
	ciphertextFmt = "kmsdev-1"
)

// Config sets up a stand-in.
type Config struct {
	// InstanceID is the service instance the bluemix-instance header must
	// name; empty makes a random UUID.
	InstanceID string
	// APIKeys are the IAM API keys the token endpoint accepts; empty
	// makes one random key (see APIKey).
	APIKeys []string
	// TokenTTL is the life of an access token (expires_in) [1h].
	TokenTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StateFile, when set, keeps the instance, API keys and keys (with
	// their material, in the clear: development only) across restarts.
	// It is read by New and rewritten after every change.
	StateFile string
}

// Server is the stand-in. It is an http.Handler; use it with httptest or
// http.Server.
type Server struct {
	mu       sync.Mutex
	instance string
	apiKeys  []string
	tokenTTL time.Duration
	now      func() time.Time
	tokens   map[string]time.Time // access token -> expiry
	keys     map[string]*key
	order    []string // key ids in creation order
	imports  *importToken
	faults   faultState
	counts   map[string]int // requests per action ("wrap", "token", ...)
	revoked  bool           // every KMS request answers 401 (access revoked)
	state    string         // Config.StateFile

	mux *http.ServeMux
}

type key struct {
	id, name, description string
	keyRing               string
	extractable           bool
	imported              bool
	state                 int
	created, updated      time.Time
	rotated               time.Time
	versions              []*version // oldest first
	payload               []byte     // standard keys only
}

type version struct {
	id       string
	created  time.Time
	aead     cipher.AEAD
	material []byte // kept only to save the state file
}

func (k *key) latest() *version { return k.versions[len(k.versions)-1] }

func (k *key) version(id string) *version {
	for _, v := range k.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// New makes a stand-in with no keys, or with those of Config.StateFile.
func New(cfg Config) (*Server, error) {
	s := &Server{
		state:    cfg.StateFile,
		instance: cfg.InstanceID,
		apiKeys:  cfg.APIKeys,
		tokenTTL: cfg.TokenTTL,
		now:      cfg.Now,
		tokens:   map[string]time.Time{},
		keys:     map[string]*key{},
		counts:   map[string]int{},
	}
	if s.state != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	if s.instance == "" {
		s.instance = uuid.NewString()
	}
	if len(s.apiKeys) == 0 {
		s.apiKeys = []string{randomText(32)}
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /identity/token", s.handleToken)
	s.mux.HandleFunc("POST /oidc/token", s.handleToken) // the path keyprotect-go-client defaults to
	s.mux.HandleFunc("POST /api/v2/keys", s.authed(s.handleCreateKey))
	s.mux.HandleFunc("GET /api/v2/keys", s.authed(s.handleListKeys))
	s.mux.HandleFunc("GET /api/v2/keys/{id}", s.authed(s.handleGetKey))
	s.mux.HandleFunc("GET /api/v2/keys/{id}/metadata", s.authed(s.handleGetKey))
	s.mux.HandleFunc("GET /api/v2/keys/{id}/versions", s.authed(s.handleVersions))
	s.mux.HandleFunc("DELETE /api/v2/keys/{id}", s.authed(s.handleDeleteKey))
	s.mux.HandleFunc("POST /api/v2/keys/{id}/actions/{action}", s.authed(s.handleAction))
	s.mux.HandleFunc("POST /api/v2/keys/{id}", s.authed(s.handleLegacyAction))
	s.mux.HandleFunc("POST /api/v2/import_token", s.authed(s.handleCreateImportToken))
	s.mux.HandleFunc("GET /api/v2/import_token", s.authed(s.handleGetImportToken))
	s.mux.HandleFunc("POST /kmsdev/faults", s.handleFaults)
	s.mux.HandleFunc("GET /kmsdev/info", s.handleInfo)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

// InstanceID is the instance the bluemix-instance header must name.
func (s *Server) InstanceID() string { return s.instance }

// APIKey is the first accepted IAM API key.
func (s *Server) APIKey() string { return s.apiKeys[0] }

// Count is how many requests of a kind were answered (faults included):
// "token", "create", "get", "list", "delete", "import_token", or an action
// name ("wrap", "unwrap", "rewrap", "rotate", "disable", "enable").
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// ServeHTTP answers one request, after the injected latency and faults.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/kmsdev/faults" {
		if status, delay := s.takeFault(); delay > 0 || status != 0 {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
			}
			if status != 0 {
				s.count(kindOf(r))
				if status == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "1")
				}
				writeError(w, status, faultTitle(status), faultCode(status), faultMessage(status))
				return
			}
		}
	}
	s.mux.ServeHTTP(w, r)
}

// kindOf names a request for Count.
func kindOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/token"):
		return "token"
	case strings.Contains(p, "/actions/"):
		return p[strings.LastIndex(p, "/")+1:]
	case r.URL.Query().Get("action") != "":
		return r.URL.Query().Get("action")
	case strings.HasSuffix(p, "/import_token"):
		return "import_token"
	case r.Method == http.MethodPost:
		return "create"
	case r.Method == http.MethodDelete:
		return "delete"
	case p == "/api/v2/keys":
		return "list"
	default:
		return "get"
	}
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.counts[kind]++
	s.mu.Unlock()
}

// --- IAM ---

// handleToken is IAM's POST /identity/token with the API-key grant.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != grantAPIKey {
		writeIAMError(w, http.StatusBadRequest, "BXNIM0109E", "Property 'grant_type' or 'apikey' is missing or not supported.")
		return
	}
	given := r.PostForm.Get("apikey")
	ok := false
	for _, k := range s.apiKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(given)) == 1 {
			ok = true
		}
	}
	if !ok {
		writeIAMError(w, http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found.")
		return
	}
	tok := randomText(48)
	now := s.now()
	s.mu.Lock()
	s.tokens[tok] = now.Add(s.tokenTTL)
	for t, exp := range s.tokens { // forget expired tokens
		if now.After(exp) {
			delete(s.tokens, t)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  tok,
		"refresh_token": "not_supported",
		"token_type":    "Bearer",
		"expires_in":    int(s.tokenTTL / time.Second),
		"expiration":    now.Add(s.tokenTTL).Unix(),
		"scope":         "ibm openid",
	})
}

func writeIAMError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"errorCode":    code,
		"errorMessage": msg,
		"context":      map[string]any{"requestId": uuid.NewString()},
	})
}

// authed checks the bearer token and the bluemix-instance header.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.count(kindOf(r))
		if cid := r.Header.Get("correlation-id"); cid != "" {
			w.Header().Set("correlation-id", cid)
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		revoked := s.revoked
		s.mu.Unlock()
		if !ok || !known || s.now().After(exp) || revoked {
			writeError(w, http.StatusUnauthorized, "Unauthorized: The user does not have access to the specified resource",
				"UNAUTHORIZED_ERR", "The user does not have access to the specified resource")
			return
		}
		inst := r.Header.Get("bluemix-instance")
		if inst == "" {
			writeError(w, http.StatusBadRequest, "Bad Request: The bluemix-instance header is missing",
				"BAD_BODY_ERR", "Missing bluemix-instance header")
			return
		}
		if inst != s.instance {
			writeError(w, http.StatusUnauthorized, "Unauthorized: The user does not have access to the specified resource",
				"UNAUTHORIZED_ERR", "The user does not have access to the specified resource")
			return
		}
		h(w, r)
	}
}

// --- keys ---

type keyJSON struct {
	Type           string       `json:"type,omitempty"`
	ID             string       `json:"id,omitempty"`
	Name           string       `json:"name,omitempty"`
	Description    string       `json:"description,omitempty"`
	State          *int         `json:"state,omitempty"`
	Extractable    bool         `json:"extractable"`
	Imported       bool         `json:"imported,omitempty"`
	Payload        string       `json:"payload,omitempty"`
	AlgorithmType  string       `json:"algorithmType,omitempty"`
	CRN            string       `json:"crn,omitempty"`
	KeyRingID      string       `json:"keyRingID,omitempty"`
	CreationDate   *time.Time   `json:"creationDate,omitempty"`
	LastUpdateDate *time.Time   `json:"lastUpdateDate,omitempty"`
	LastRotateDate *time.Time   `json:"lastRotateDate,omitempty"`
	KeyVersion     *versionJSON `json:"keyVersion,omitempty"`
	Deleted        *bool        `json:"deleted,omitempty"`
}

type versionJSON struct {
	ID           string     `json:"id"`
	CreationDate *time.Time `json:"creationDate,omitempty"`
}

type collection struct {
	Metadata  metadata `json:"metadata"`
	Resources []any    `json:"resources"`
}

type metadata struct {
	CollectionType  string `json:"collectionType"`
	CollectionTotal int    `json:"collectionTotal"`
}

func (s *Server) keyView(k *key, withPayload bool) keyJSON {
	state := k.state
	deleted := k.state == StateDestroyed
	v := k.latest()
	out := keyJSON{
		Type: typeKey, ID: k.id, Name: k.name, Description: k.description, State: &state,
		Extractable: k.extractable, Imported: k.imported, AlgorithmType: "AES",
		CRN:       fmt.Sprintf("crn:v1:bluemix:public:kms:local:a/kmsdev:%s:key:%s", s.instance, k.id),
		KeyRingID: k.keyRing, CreationDate: &k.created, LastUpdateDate: &k.updated,
		KeyVersion: &versionJSON{ID: v.id, CreationDate: &v.created}, Deleted: &deleted,
	}
	if !k.rotated.IsZero() {
		out.LastRotateDate = &k.rotated
	}
	if withPayload && k.extractable && k.payload != nil {
		out.Payload = base64.StdEncoding.EncodeToString(k.payload)
	}
	return out
}

func keyRingOf(r *http.Request) string {
	if ring := r.Header.Get("x-kms-key-ring"); ring != "" {
		return ring
	}
	return "default"
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Metadata  metadata  `json:"metadata"`
		Resources []keyJSON `json:"resources"`
	}
	if !decodeBody(w, r, &req, "Key could not be created") {
		return
	}
	if len(req.Resources) != 1 {
		writeError(w, http.StatusBadRequest, "Bad Request: Key could not be created: Please see `reasons` for more details (BAD_BODY_ERR)",
			"BAD_BODY_ERR", "Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters: one resource is required")
		return
	}
	if req.Metadata.CollectionTotal != len(req.Resources) {
		writeError(w, http.StatusBadRequest, "Bad Request: Key could not be created: Please see `reasons` for more details (COLLECTION_TOTAL_MISMATCH_ERR)",
			"COLLECTION_TOTAL_MISMATCH_ERR", "Collection total does not match number of resources")
		return
	}
	in := req.Resources[0]
	if in.Name == "" {
		writeError(w, http.StatusBadRequest, "Bad Request: Key could not be created: Please see `reasons` for more details (BAD_BODY_ERR)",
			"BAD_BODY_ERR", "Invalid body data was passed: the key name is required")
		return
	}
	material := make([]byte, 32)
	imported := in.Payload != ""
	if imported {
		p, err := base64.StdEncoding.DecodeString(in.Payload)
		if err != nil || (!in.Extractable && len(p) != 16 && len(p) != 24 && len(p) != 32) {
			writeError(w, http.StatusBadRequest, "Bad Request: Key could not be created: Please see `reasons` for more details (BAD_BODY_ERR)",
				"BAD_BODY_ERR", "Invalid body data was passed: the payload must be base64 of a 128, 192 or 256-bit key for a root key")
			return
		}
		material = p
	} else {
		_, _ = rand.Read(material)
	}
	now := s.now().UTC()
	k := &key{
		id: uuid.NewString(), name: in.Name, description: in.Description, keyRing: keyRingOf(r),
		extractable: in.Extractable, imported: imported, state: StateActive, created: now, updated: now,
	}
	if in.Extractable {
		k.payload = material
		k.versions = []*version{{id: k.id, created: now}} // a standard key has one version
	} else {
		v, err := newVersion(material, now)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Bad Request: Key could not be created", "BAD_BODY_ERR", err.Error())
			return
		}
		v.id = k.id // the first version of a key carries the key's id, as the service does
		k.versions = []*version{v}
	}
	s.mu.Lock()
	s.keys[k.id] = k
	s.order = append(s.order, k.id)
	view := s.keyView(k, true)
	err := s.save()
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal Server Error: state file", "INTERNAL_SERVER_ERR", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, collection{metadata{typeKey, 1}, []any{view}})
}

func newVersion(material []byte, now time.Time) (*version, error) {
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &version{id: uuid.NewString(), created: now, aead: aead, material: material}, nil
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	limit, offset := 200, 0
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
		limit = v
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("offset")); err == nil && v >= 0 {
		offset = v
	}
	ring := r.Header.Get("x-kms-key-ring")
	s.mu.Lock()
	var out []any
	for _, id := range s.order {
		k := s.keys[id]
		if k.state == StateDestroyed || (ring != "" && k.keyRing != ring) {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, s.keyView(k, false))
	}
	s.mu.Unlock()
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, collection{metadata{typeKey, len(out)}, out})
}

// lookup finds a key for a request, answering 404 (or 410 for a deleted
// key, when gone is set) itself. It returns with s.mu held on success.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, what string, gone bool) *key {
	id := r.PathValue("id")
	s.mu.Lock()
	k, ok := s.keys[id]
	if !ok {
		for _, c := range s.keys { // aliases are not kept; names stand in
			if c.name == id && c.state != StateDestroyed {
				k, ok = c, true
				break
			}
		}
	}
	if ok && r.Header.Get("x-kms-key-ring") != "" && r.Header.Get("x-kms-key-ring") != k.keyRing {
		ok = false
	}
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("Not Found: %s could not be performed: Please see `reasons` for more details (KEY_NOT_FOUND_ERR)", what),
			"KEY_NOT_FOUND_ERR", "Key does not exist")
		return nil
	}
	if gone && k.state == StateDestroyed {
		s.mu.Unlock()
		writeError(w, http.StatusGone, fmt.Sprintf("Gone: %s could not be performed: Please see `reasons` for more details (KEY_DELETED_ERR)", what),
			"KEY_DELETED_ERR", "Key has already been deleted: Please delete references to this key")
		return nil
	}
	return k
}

func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request) {
	k := s.lookup(w, r, "Key retrieval", false)
	if k == nil {
		return
	}
	view := s.keyView(k, !strings.HasSuffix(r.URL.Path, "/metadata"))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, collection{metadata{typeKey, 1}, []any{view}})
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	k := s.lookup(w, r, "Key versions retrieval", true)
	if k == nil {
		return
	}
	var out []any
	for i := len(k.versions) - 1; i >= 0; i-- { // newest first
		v := k.versions[i]
		out = append(out, versionJSON{ID: v.id, CreationDate: &v.created})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, collection{metadata{typeVersion, len(out)}, out})
}

func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	k := s.lookup(w, r, "Key deletion", true)
	if k == nil {
		return
	}
	k.state = StateDestroyed
	k.updated = s.now().UTC()
	view := s.keyView(k, false)
	_ = s.save()
	s.mu.Unlock()
	if r.Header.Get("Prefer") == "return=representation" {
		writeJSON(w, http.StatusOK, collection{metadata{typeKey, 1}, []any{view}})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- actions ---

type actionJSON struct {
	Plaintext           string       `json:"plaintext,omitempty"`
	Ciphertext          string       `json:"ciphertext,omitempty"`
	AAD                 []string     `json:"aad,omitempty"`
	Payload             string       `json:"payload,omitempty"`
	EncryptedNonce      string       `json:"encryptedNonce,omitempty"`
	IV                  string       `json:"iv,omitempty"`
	EncryptionAlgorithm string       `json:"encryptionAlgorithm,omitempty"`
	KeyVersion          *versionJSON `json:"keyVersion,omitempty"`
	RewrappedKeyVersion *versionJSON `json:"rewrappedKeyVersion,omitempty"`
}

// handleLegacyAction is the older POST /api/v2/keys/{id}?action=NAME form.
func (s *Server) handleLegacyAction(w http.ResponseWriter, r *http.Request) {
	action := r.URL.Query().Get("action")
	if action == "" {
		writeError(w, http.StatusBadRequest, "Bad Request: no action given", "BAD_BODY_ERR", "The action query parameter is required")
		return
	}
	r.SetPathValue("action", action)
	s.handleAction(w, r)
}

var actionNames = map[string]string{
	"wrap": "Wrap with key", "unwrap": "Unwrap with key", "rewrap": "Rewrap with key", "rotate": "Key rotation",
	"disable": "Key disable", "enable": "Key enable",
}

func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	what, known := actionNames[action]
	if !known {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad Request: action %q is not supported", action), "BAD_BODY_ERR", "Unknown action")
		return
	}
	var req actionJSON
	if r.ContentLength != 0 {
		if !decodeBody(w, r, &req, what+" could not be performed") {
			return
		}
	}
	k := s.lookup(w, r, what, true)
	if k == nil {
		return
	}
	status, body, fail := s.act(k, action, what, req, r.Header.Get("Prefer") == "return=representation")
	if fail == nil && (action == "rotate" || action == "disable" || action == "enable") {
		_ = s.save()
	}
	s.mu.Unlock()
	if fail != nil {
		writeError(w, fail.status, fail.errorMsg, fail.code, fail.message)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

type failure struct {
	status                  int
	errorMsg, code, message string
}

func invalidState(what string) *failure {
	return &failure{http.StatusConflict, fmt.Sprintf("Conflict: %s could not be performed: Please see `reasons` for more details (KEY_ACTION_INVALID_STATE_ERR)", what),
		"KEY_ACTION_INVALID_STATE_ERR", "Key is not in a valid state"}
}

func badCiphertext(what string) *failure {
	return &failure{http.StatusUnprocessableEntity, fmt.Sprintf("Unprocessable Entity: %s could not be performed: Please see `reasons` for more details (UNPROCESSABLE_CIPHERTEXT_ERR)", what),
		"UNPROCESSABLE_CIPHERTEXT_ERR", "The provided ciphertext is invalid or corrupted"}
}

func badBody(what, detail string) *failure {
	return &failure{http.StatusBadRequest, fmt.Sprintf("Bad Request: %s could not be performed: Please see `reasons` for more details (BAD_BODY_ERR)", what),
		"BAD_BODY_ERR", "Invalid body data was passed: " + detail}
}

// act runs one key action with s.mu held.
func (s *Server) act(k *key, action, what string, req actionJSON, representation bool) (int, any, *failure) {
	now := s.now().UTC()
	switch action {
	case "disable":
		if k.state != StateActive {
			return 0, nil, invalidState(what)
		}
		k.state, k.updated = StateSuspended, now
		return http.StatusNoContent, nil, nil
	case "enable":
		if k.state != StateSuspended {
			return 0, nil, invalidState(what)
		}
		k.state, k.updated = StateActive, now
		return http.StatusNoContent, nil, nil
	}
	if k.extractable {
		return 0, nil, &failure{http.StatusBadRequest, fmt.Sprintf("Bad Request: %s could not be performed: Please see `reasons` for more details (KEY_ROOT_REQ_ERR)", what),
			"KEY_ROOT_REQ_ERR", "Requested action can only be completed with a root key"}
	}
	if k.state != StateActive {
		return 0, nil, invalidState(what)
	}
	switch action {
	case "rotate":
		material := make([]byte, 32)
		if k.imported && req.Payload == "" {
			return 0, nil, &failure{http.StatusBadRequest, fmt.Sprintf("Bad Request: %s could not be performed: Please see `reasons` for more details (KEY_PAYLOAD_REQ_ERR)", what),
				"KEY_PAYLOAD_REQ_ERR", "This root key was created with user-supplied key material: Key material is required to perform a 'rotate' action"}
		}
		if req.Payload != "" {
			p, err := base64.StdEncoding.DecodeString(req.Payload)
			if err != nil {
				return 0, nil, badBody(what, "payload is not base64")
			}
			material = p
		} else {
			_, _ = rand.Read(material)
		}
		v, err := newVersion(material, now)
		if err != nil {
			return 0, nil, badBody(what, "payload is not a 128, 192 or 256-bit key")
		}
		k.versions = append(k.versions, v)
		k.rotated, k.updated = now, now
		if representation {
			return http.StatusOK, collection{metadata{typeKey, 1}, []any{s.keyView(k, false)}}, nil
		}
		return http.StatusNoContent, nil, nil
	case "wrap":
		var pt []byte
		generated := req.Plaintext == ""
		if generated {
			pt = make([]byte, 32)
			_, _ = rand.Read(pt)
		} else {
			var err error
			if pt, err = base64.StdEncoding.DecodeString(req.Plaintext); err != nil {
				return 0, nil, badBody(what, "plaintext is not base64")
			}
			if len(pt) > 7168 {
				return 0, nil, badBody(what, "plaintext is longer than 7168 bytes")
			}
		}
		v := k.latest()
		out := actionJSON{Ciphertext: seal(v, pt, req.AAD), KeyVersion: &versionJSON{ID: v.id, CreationDate: &v.created}}
		if generated {
			out.Plaintext = base64.StdEncoding.EncodeToString(pt)
		}
		return http.StatusOK, out, nil
	case "unwrap", "rewrap":
		if req.Ciphertext == "" {
			return 0, nil, badBody(what, "ciphertext is required")
		}
		v, pt, ok := open(k, req.Ciphertext, req.AAD)
		if !ok {
			return 0, nil, badCiphertext(what)
		}
		latest := k.latest()
		out := actionJSON{KeyVersion: &versionJSON{ID: v.id, CreationDate: &v.created}}
		if action == "unwrap" {
			out.Plaintext = base64.StdEncoding.EncodeToString(pt)
		}
		// After a rotation, unwrap hands back the same key wrapped by the
		// newest version so that the caller can store it; rewrap always
		// does.
		if action == "rewrap" || v != latest {
			out.Ciphertext = seal(latest, pt, req.AAD)
			out.RewrappedKeyVersion = &versionJSON{ID: latest.id, CreationDate: &latest.created}
		}
		return http.StatusOK, out, nil
	}
	return 0, nil, badBody(what, "unknown action")
}

// The ciphertext the stand-in hands out: base64 of a small JSON document
// naming the key version (handle), like the service's own opaque format.
type sealed struct {
	Ciphertext string `json:"ciphertext"`
	IV         string `json:"iv"`
	Version    string `json:"version"`
	Handle     string `json:"handle"`
}

// aadBytes encodes the aad list unambiguously (each entry length-prefixed)
// together with the version handle.
func aadBytes(handle string, aad []string) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(handle)))
	out = append(out, handle...)
	for _, a := range aad {
		out = binary.BigEndian.AppendUint32(out, uint32(len(a)))
		out = append(out, a...)
	}
	return out
}

func seal(v *version, pt []byte, aad []string) string {
	iv := make([]byte, v.aead.NonceSize())
	_, _ = rand.Read(iv)
	ct := v.aead.Seal(nil, iv, pt, aadBytes(v.id, aad))
	doc, _ := json.Marshal(sealed{
		Ciphertext: base64.StdEncoding.EncodeToString(ct), IV: base64.StdEncoding.EncodeToString(iv),
		Version: ciphertextFmt, Handle: v.id,
	})
	return base64.StdEncoding.EncodeToString(doc)
}

func open(k *key, ciphertext string, aad []string) (*version, []byte, bool) {
	doc, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, nil, false
	}
	var c sealed
	if err := json.Unmarshal(doc, &c); err != nil || c.Version != ciphertextFmt {
		return nil, nil, false
	}
	v := k.version(c.Handle)
	if v == nil {
		return nil, nil, false
	}
	ct, err1 := base64.StdEncoding.DecodeString(c.Ciphertext)
	iv, err2 := base64.StdEncoding.DecodeString(c.IV)
	if err1 != nil || err2 != nil || len(iv) != v.aead.NonceSize() {
		return nil, nil, false
	}
	pt, err := v.aead.Open(nil, iv, ct, aadBytes(v.id, aad))
	if err != nil {
		return nil, nil, false
	}
	return v, pt, true
}

// --- helpers ---

func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad Request: %s: Please see `reasons` for more details (NO_BODY_ERR)", what),
				"NO_BODY_ERR", "Missing body in request")
			return false
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Bad Request: %s: Please see `reasons` for more details (BAD_BODY_ERR)", what),
			"BAD_BODY_ERR", "Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the KMS API's error envelope.
func writeError(w http.ResponseWriter, status int, errorMsg, code, message string) {
	if !strings.Contains(errorMsg, code) {
		errorMsg += ": Please see `reasons` for more details (" + code + ")"
	}
	writeJSON(w, status, collection{
		Metadata: metadata{typeError, 1},
		Resources: []any{map[string]any{
			"errorMsg": errorMsg,
			"reasons": []any{map[string]any{
				"code": code, "message": message, "status": status, "moreInfo": moreInfo,
			}},
		}},
	})
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
