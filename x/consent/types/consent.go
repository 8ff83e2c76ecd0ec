package types

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/crypto"
)

// Limits of the module's values.
const (
	// MaxDelegates bounds a patient's delegates.
	MaxDelegates = 10
	// MaxKeyGrants bounds the key grants of a consent (one per data class, plus
	// room for key-epoch rotation).
	MaxKeyGrants = 16
	// MaxKeyGrantSize bounds one key grant: an HPKE MLKEM768X25519 encapsulation
	// (1120 bytes) plus a wrapped 32-byte key and tag fit with room to spare.
	MaxKeyGrantSize = 2048
	// MaxEmergencyNoteLength bounds the break-glass note, in characters.
	MaxEmergencyNoteLength = 140
	// MaxStartSkew is how far before the block time a consent's start may be
	// and still be taken as "now": a client that sets the start to its own
	// clock's now is always a little behind the block that includes it.
	MaxStartSkew = 5 * time.Minute
)

// ValidateEncryptionKey checks an HPKE MLKEM768X25519 public key.
func ValidateEncryptionKey(key []byte) error {
	if err := crypto.CheckPublicKey(key); err != nil {
		return errorsmod.Wrap(ErrInvalidEncryptionKey, err.Error())
	}
	return nil
}

// ValidateKeyGrants checks the count of key grants and that each is a healthd
// key grant (crypto.WrapClassKey's layout and size) for a known data class and
// an epoch clients can derive (1..crypto.MaxKeyEpoch). The msg server checks
// the rest against state: the class is one of the consent's and the epoch is
// not past the patient's current one.
func ValidateKeyGrants(grants [][]byte) error {
	if len(grants) > MaxKeyGrants {
		return errorsmod.Wrapf(ErrInvalidKeyGrant, "%d key grants, at most %d", len(grants), MaxKeyGrants)
	}
	for i, g := range grants {
		if len(g) == 0 || len(g) > MaxKeyGrantSize {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "key grant %d is %d bytes, want 1-%d", i, len(g), MaxKeyGrantSize)
		}
		class, epoch, ok := crypto.GrantLabel(g)
		if !ok {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "key grant %d is not a healthd key grant (made by `healthd records key-grants`)", i)
		}
		if err := ValidateDataClass(class); err != nil {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "key grant %d: %s", i, err)
		}
		if epoch < 1 || epoch > crypto.MaxKeyEpoch {
			return errorsmod.Wrapf(ErrInvalidKeyGrant, "key grant %d is for epoch %d, outside 1..%d", i, epoch, crypto.MaxKeyEpoch)
		}
	}
	return nil
}

// ValidateEmergencyNote checks a break-glass note: 1-140 characters of UTF-8
// without control characters. Its content cannot be checked: the CLI and docs
// say it must not contain clinical or identifying details.
func ValidateEmergencyNote(note string) error {
	n := utf8.RuneCountInString(note)
	switch {
	case !utf8.ValidString(note) || strings.IndexFunc(note, unicode.IsControl) >= 0:
		return errorsmod.Wrap(ErrInvalidEmergency, "note: printable UTF-8 only")
	case n == 0 || n > MaxEmergencyNoteLength:
		return errorsmod.Wrapf(ErrInvalidEmergency, "note must be 1-%d characters, got %d", MaxEmergencyNoteLength, n)
	}
	return nil
}

// Validate checks a period: a start and an end after it.
func (p Period) Validate() error {
	if p.Start.IsZero() || p.End.IsZero() || !p.End.After(p.Start) {
		return errorsmod.Wrapf(ErrInvalidPeriod, "[%s, %s): the end must be after the start", p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
	}
	return nil
}

// Contains reports whether t is in [start, end).
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// Covers reports whether the consent's terms include the data class, permission
// and purpose, and (if it has a data period) the authoring time. It does not look
// at status or period: see keeper.CheckAccess.
func (c Consent) Covers(dataClass, permission, purpose string, authoredAt time.Time) bool {
	if !slices.Contains(c.DataClasses, dataClass) || !slices.Contains(c.Permissions, permission) ||
		!slices.Contains(c.Purposes, purpose) {
		return false
	}
	return c.DataPeriod == nil || c.DataPeriod.Contains(authoredAt)
}

// Validate checks a stored consent (genesis).
func (c Consent) Validate() error {
	if c.Id == 0 {
		return errorsmod.Wrap(ErrInvalidGenesis, "consent id 0")
	}
	if err := ValidateTerms(c.Permissions, c.DataClasses, c.Purposes); err != nil {
		return err
	}
	if err := c.Period.Validate(); err != nil {
		return err
	}
	if c.DataPeriod != nil {
		if err := c.DataPeriod.Validate(); err != nil {
			return errorsmod.Wrap(err, "data period")
		}
	}
	if _, ok := ConsentStatus_name[int32(c.Status)]; !ok || c.Status == CONSENT_STATUS_UNSPECIFIED {
		return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: status %d", c.Id, c.Status)
	}
	if (c.Status == CONSENT_STATUS_REVOKED) == c.RevokedAt.IsZero() {
		return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: revoked_at must be set exactly when revoked", c.Id)
	}
	if err := ValidateKeyGrants(c.KeyGrants); err != nil {
		return err
	}
	if c.Emergency {
		if len(c.Purposes) != 1 || c.Purposes[0] != PurposeEmergency {
			return errorsmod.Wrapf(ErrInvalidGenesis, "emergency consent %d: purpose must be ETREAT only", c.Id)
		}
		if err := ValidateEmergencyNote(c.EmergencyNote); err != nil {
			return err
		}
		if _, ok := EmergencyReason_name[int32(c.EmergencyReason)]; !ok || c.EmergencyReason == EMERGENCY_REASON_UNSPECIFIED {
			return errorsmod.Wrapf(ErrInvalidGenesis, "emergency consent %d: reason %d", c.Id, c.EmergencyReason)
		}
		if c.Review == REVIEW_STATE_UNSPECIFIED {
			return errorsmod.Wrapf(ErrInvalidGenesis, "emergency consent %d: no review state", c.Id)
		}
	} else if c.Review != REVIEW_STATE_UNSPECIFIED || c.EmergencyReason != EMERGENCY_REASON_UNSPECIFIED || c.EmergencyNote != "" {
		return errorsmod.Wrapf(ErrInvalidGenesis, "consent %d: emergency fields on a regular consent", c.Id)
	}
	return nil
}
