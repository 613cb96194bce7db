package message

import (
	"fmt"

	"github.com/gemalto/kmip-go/kmip20"
)

// Reason is a KMIP Result Reason (KMIP 2.1 section 11.29; 1.4 section
// 9.1.3.2.29). The constants are gemalto's kmip20 set, which includes the
// 1.x values.
type Reason = kmip20.ResultReason

// Error is a failed batch item: the Result Reason and Result Message the
// client sees. Handlers return it for protocol problems; other errors are
// mapped to one in a single place (the operations layer).
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

// Errorf builds an *Error with a formatted Result Message.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// reasonSince says in which version a Result Reason appeared; reasons not
// listed exist since 1.0, and every value above 0x18 since 2.0.
var reasonSince = map[Reason]Version{
	// Defined by 2.0, but the 2.0 profiles' test cases still answer
	// Permission Denied for a wrong lifecycle state; 2.1's use it.
	kmip20.ResultReasonWrongKeyLifecycleState: V2_1,
	kmip20.ResultReasonAttestationRequired:    V1_2,
	kmip20.ResultReasonAttestationFailed:      V1_2,
	kmip20.ResultReasonSensitive:              V1_4,
	kmip20.ResultReasonNotExtractable:         V1_4,
	kmip20.ResultReasonObjectAlreadyExists:    V1_4,
}

// reasonFallback is what a client of a version without a reason gets
// instead: the nearest 1.x reason a 1.x client understands.
var reasonFallback = map[Reason]Reason{
	kmip20.ResultReasonObjectNotFound:                     kmip20.ResultReasonItemNotFound,
	kmip20.ResultReasonObjectDestroyed:                    kmip20.ResultReasonItemNotFound,
	kmip20.ResultReasonAttributeNotFound:                  kmip20.ResultReasonItemNotFound,
	kmip20.ResultReasonAttributeInstanceNotFound:          kmip20.ResultReasonItemNotFound,
	kmip20.ResultReasonWrongKeyLifecycleState:             kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonNotAuthorized:                      kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonReadOnlyAttribute:                  kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonAttributeReadOnly:                  kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonInvalidAttribute:                   kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonInvalidAttributeValue:              kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonInvalidDataType:                    kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonUnknownEnumeration:                 kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonUnknownTag:                         kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonNumericRange:                       kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonInvalidObjectType:                  kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonIllegalObjectType:                  kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonUnsupportedAttribute:               kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonCodecError:                         kmip20.ResultReasonInvalidMessage,
	kmip20.ResultReasonUnsupportedProtocolVersion:         kmip20.ResultReasonInvalidMessage,
	kmip20.ResultReasonBadCryptographicParameters:         kmip20.ResultReasonInvalidField,
	kmip20.ResultReasonIncompatibleCryptographicUsageMask: kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonNonUniqueNameAttribute:             kmip20.ResultReasonIllegalOperation,
	kmip20.ResultReasonAttributeSingleValued:              kmip20.ResultReasonIllegalOperation,
	kmip20.ResultReasonMultiValuedAttribute:               kmip20.ResultReasonIllegalOperation,
	kmip20.ResultReasonObjectAlreadyExists:                kmip20.ResultReasonIllegalOperation,
	kmip20.ResultReasonSensitive:                          kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonNotExtractable:                     kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonAttestationRequired:                kmip20.ResultReasonPermissionDenied,
	kmip20.ResultReasonAttestationFailed:                  kmip20.ResultReasonPermissionDenied,
}

// ReasonFor returns the Result Reason a client of version v is sent for r:
// r itself when v has it, its 1.x fallback otherwise, General Failure as
// the last resort.
func ReasonFor(v Version, r Reason) Reason {
	for {
		since, listed := reasonSince[r]
		if !listed {
			since = V1_0
			if r > kmip20.ResultReasonObjectAlreadyExists && r != kmip20.ResultReasonGeneralFailure {
				since = V2_0
			}
		}
		if v.AtLeast(since) {
			return r
		}
		fb, ok := reasonFallback[r]
		if !ok {
			return kmip20.ResultReasonGeneralFailure
		}
		r = fb
	}
}
