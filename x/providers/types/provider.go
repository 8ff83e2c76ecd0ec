package types

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/crypto"
)

// Field limits of a registry entry.
const (
	MaxNameLength          = 128
	MaxLicenseIDLength     = 64
	MaxVaultEndpointLength = 256
	// EncryptionKeyLength is the size of an HPKE MLKEM768X25519 public key.
	EncryptionKeyLength = crypto.PublicKeySize
	// CredentialHashLength is the size of a SHA-256 digest.
	CredentialHashLength = 32
	// MaxPreviousKeys bounds the retired keys kept per provider.
	MaxPreviousKeys = 32
)

var jurisdictionRE = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)

// ValidateName checks a display name: 1-128 characters, each from an explicit
// allow-list (nameRune), single spaces between words, no leading or trailing
// space. It is a consensus rule, so it uses fixed code-point ranges rather than
// Go's unicode tables, which change between Go releases; and it leaves out
// what lets one name pass for another: bidirectional and other format
// controls, zero-width characters, and scripts whose letters look like Latin
// ones (Cyrillic, Greek).
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return errorsmod.Wrap(ErrInvalidName, "not valid UTF-8")
	case n == 0 || n > MaxNameLength:
		return errorsmod.Wrapf(ErrInvalidName, "must be 1-%d characters, got %d", MaxNameLength, n)
	case strings.TrimSpace(name) != name:
		return errorsmod.Wrap(ErrInvalidName, "leading or trailing spaces")
	case strings.Contains(name, "  "):
		return errorsmod.Wrap(ErrInvalidName, "two spaces in a row")
	}
	for i, r := range name {
		if !nameRune(r) {
			return errorsmod.Wrapf(ErrInvalidName, "character %U at byte %d is not allowed: use Latin letters, digits, "+
				"spaces and - . , & ' ( ) / + #", r, i)
		}
	}
	return nil
}

// nameRune is the allow-list of ValidateName: ASCII letters and digits, the
// space, a little punctuation, and the letters of Latin-1 Supplement and Latin
// Extended-A (accented Latin letters; not × and ÷).
func nameRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case strings.ContainsRune(" -.,&'()/+#", r):
		return true
	case r >= 0xC0 && r <= 0xFF:
		return r != 0xD7 && r != 0xF7
	case r >= 0x100 && r <= 0x17F:
		return true
	}
	return false
}

// ValidateLicenseID checks a licence number: 1-64 printable ASCII characters.
func ValidateLicenseID(id string) error {
	if len(id) == 0 || len(id) > MaxLicenseIDLength {
		return errorsmod.Wrapf(ErrInvalidLicense, "must be 1-%d characters, got %d", MaxLicenseIDLength, len(id))
	}
	for _, r := range id {
		if r < 0x20 || r > 0x7e {
			return errorsmod.Wrap(ErrInvalidLicense, "only printable ASCII characters")
		}
	}
	return nil
}

// ValidateJurisdiction checks an ISO 3166 code such as "DE" or "US-CA".
func ValidateJurisdiction(j string) error {
	if !jurisdictionRE.MatchString(j) {
		return errorsmod.Wrapf(ErrInvalidJurisdiction, "%q: want an ISO 3166 code such as DE or US-CA", j)
	}
	return nil
}

// ValidateKind checks that k is a known kind.
func ValidateKind(k ProviderKind) error {
	if _, known := ProviderKind_name[int32(k)]; !known || k == PROVIDER_KIND_UNSPECIFIED {
		return errorsmod.Wrapf(ErrInvalidKind, "%d: want hospital, clinic, laboratory, pharmacy, practitioner, payer or research", k)
	}
	return nil
}

// ValidateStatus checks that s is a known status.
func ValidateStatus(s ProviderStatus) error {
	if _, known := ProviderStatus_name[int32(s)]; !known || s == PROVIDER_STATUS_UNSPECIFIED {
		return errorsmod.Wrapf(ErrInvalidStatus, "%d", s)
	}
	return nil
}

// ValidateReason checks that r is a known, specified reason.
func ValidateReason(r StatusReason) error {
	if _, known := StatusReason_name[int32(r)]; !known || r == STATUS_REASON_UNSPECIFIED {
		return errorsmod.Wrapf(ErrInvalidReason, "%d: a reason is required", r)
	}
	return nil
}

// ValidateEncryptionKey checks that key is an HPKE MLKEM768X25519 public key.
func ValidateEncryptionKey(key []byte) error {
	if err := crypto.CheckPublicKey(key); err != nil {
		return errorsmod.Wrap(ErrInvalidEncryptionKey, err.Error())
	}
	return nil
}

// ValidateVaultEndpoint checks a vault base URL: https://host[:port][/path], or
// http:// on a loopback host for local development; no credentials, query or
// fragment; at most 256 characters.
func ValidateVaultEndpoint(endpoint string) error {
	if len(endpoint) == 0 || len(endpoint) > MaxVaultEndpointLength {
		return errorsmod.Wrapf(ErrInvalidVaultEndpoint, "must be 1-%d characters, got %d", MaxVaultEndpointLength, len(endpoint))
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return errorsmod.Wrap(ErrInvalidVaultEndpoint, err.Error())
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return errorsmod.Wrap(ErrInvalidVaultEndpoint, "no host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return errorsmod.Wrap(ErrInvalidVaultEndpoint, "credentials, query and fragment are not allowed")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return errorsmod.Wrapf(ErrInvalidVaultEndpoint, "scheme %q: want https (http only on a loopback host)", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateCredentialHash checks a SHA-256 digest.
func ValidateCredentialHash(h []byte) error {
	if len(h) != CredentialHashLength {
		return errorsmod.Wrapf(ErrInvalidCredentialHash, "must be %d bytes (SHA-256), got %d", CredentialHashLength, len(h))
	}
	return nil
}

// Validate checks every field of a registry entry, as genesis must.
func (p Provider) Validate() error {
	if err := ValidateName(p.Name); err != nil {
		return err
	}
	if err := ValidateKind(p.Kind); err != nil {
		return err
	}
	if err := ValidateLicenseID(p.LicenseId); err != nil {
		return err
	}
	if err := ValidateJurisdiction(p.Jurisdiction); err != nil {
		return err
	}
	if err := ValidateEncryptionKey(p.EncryptionKey); err != nil {
		return err
	}
	if err := ValidateVaultEndpoint(p.VaultEndpoint); err != nil {
		return err
	}
	if err := ValidateCredentialHash(p.CredentialHash); err != nil {
		return err
	}
	if err := ValidateStatus(p.Status); err != nil {
		return err
	}
	if len(p.PreviousKeys) > MaxPreviousKeys {
		return errorsmod.Wrapf(ErrTooManyKeys, "%d, at most %d", len(p.PreviousKeys), MaxPreviousKeys)
	}
	for _, k := range p.PreviousKeys {
		if err := ValidateEncryptionKey(k.Key); err != nil {
			return errorsmod.Wrap(err, "previous key")
		}
	}
	approved := !p.CredentialExpiresAt.IsZero()
	switch p.Status {
	case PROVIDER_STATUS_PENDING:
		if approved {
			return errorsmod.Wrap(ErrInvalidStatus, "a pending provider has no credential expiry")
		}
	case PROVIDER_STATUS_ACTIVE, PROVIDER_STATUS_SUSPENDED:
		if !approved {
			return errorsmod.Wrapf(ErrInvalidStatus, "%s without a credential expiry (never approved)", p.Status)
		}
	}
	if p.UpdatedAt.Before(p.RegisteredAt) {
		return errorsmod.Wrap(ErrInvalidStatus, "updated_at before registered_at")
	}
	return nil
}
