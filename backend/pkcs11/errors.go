package pkcs11

import (
	"errors"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// ckrAEADDecryptFailed is CKR_AEAD_DECRYPT_FAILED of PKCS#11 3.0, which
// miekg/pkcs11 does not define.
const ckrAEADDecryptFailed = 0x35

// settled marks an error whose recovery was already tried (by the anchor's
// retry loop): an outer retry loop must not act on the PKCS#11 code inside
// it again, for example by discarding its own healthy session.
type settled struct{ error }

func (s settled) Unwrap() error { return s.error }

// keyProblem is a missing or unusable key of the key set. Its text says
// exactly what is wrong (Check shows it as is); it matches
// backend.ErrKeyMissing.
type keyProblem string

func (e keyProblem) Error() string        { return string(e) }
func (e keyProblem) Is(target error) bool { return target == backend.ErrKeyMissing }

// rv returns the PKCS#11 return value inside err, if any (none for a
// settled error).
func rv(err error) (uint, bool) {
	if err == nil { // the common case, without errors.As's allocation
		return 0, false
	}
	var st settled
	if errors.As(err, &st) {
		return 0, false
	}
	var e pkcs11.Error
	if errors.As(err, &e) {
		return uint(e), true
	}
	return 0, false
}

// isRV reports whether err carries one of the return values.
func isRV(err error, rvs ...uint) bool {
	code, ok := rv(err)
	if !ok {
		return false
	}
	for _, r := range rvs {
		if code == r {
			return true
		}
	}
	return false
}

// isSessionLost: the session is gone; so are the session objects it made.
func isSessionLost(err error) bool {
	return isRV(err, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED)
}

// isNotLoggedIn: the token forgot the login (all sessions were closed).
func isNotLoggedIn(err error) bool {
	return isRV(err, pkcs11.CKR_USER_NOT_LOGGED_IN)
}

// isHandleInvalid: a cached object handle no longer names an object.
func isHandleInvalid(err error) bool {
	return isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID,
		pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID, pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID)
}

// isDeviceLost: the module or the token is gone; the session is useless
// and only reconnecting the member (perhaps with C_Finalize and
// C_Initialize) can help: the set takes it out and its prober does that.
func isDeviceLost(err error) bool {
	return isRV(err, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
}

// isMACMismatch: C_Verify says the MAC is wrong.
func isMACMismatch(err error) bool {
	return isRV(err, pkcs11.CKR_SIGNATURE_INVALID, pkcs11.CKR_SIGNATURE_LEN_RANGE)
}

// isAuthFailure: C_Decrypt with AES-GCM refused the tag. SoftHSM2 2.6.1
// answers a bad tag with CKR_GENERAL_ERROR, so that counts too (only ever
// asked after a successful C_DecryptInit with a key we hold).
func isAuthFailure(err error) bool {
	return isRV(err, pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE,
		pkcs11.CKR_SIGNATURE_INVALID, ckrAEADDecryptFailed, pkcs11.CKR_GENERAL_ERROR)
}
