package types

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	errorsmod "cosmossdk.io/errors"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// HashLength is the size of a SHA-256 digest.
const HashLength = 32

// fhirTypeRE matches a FHIR R4 resource type name: an upper-case letter then
// letters (Observation, MedicationRequest, DocumentReference).
var fhirTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// Validate checks an entry against the params: hash, size, URI, class, FHIR
// type and envelope, each with its own error.
func (e RecordEntry) Validate(p Params) error {
	if len(e.ContentHash) != HashLength {
		return errorsmod.Wrapf(ErrInvalidHash, "must be %d bytes (SHA-256 of the ciphertext), got %d", HashLength, len(e.ContentHash))
	}
	if e.Size_ == 0 || e.Size_ > p.MaxRecordSize {
		return errorsmod.Wrapf(ErrInvalidSize, "%d: must be 1-%d bytes", e.Size_, p.MaxRecordSize)
	}
	if err := p.ValidateURI(e.StorageUri); err != nil {
		return err
	}
	if err := consenttypes.ValidateDataClass(e.DataClass); err != nil {
		return errorsmod.Wrap(ErrInvalidDataClass, err.Error())
	}
	if !fhirTypeRE.MatchString(e.FhirResourceType) {
		return errorsmod.Wrapf(ErrInvalidFHIRType, "%q: want a FHIR R4 resource type name such as Observation", e.FhirResourceType)
	}
	if len(e.KeyEnvelope) == 0 || len(e.KeyEnvelope) > int(p.MaxKeyEnvelopeSize) {
		return errorsmod.Wrapf(ErrInvalidEnvelope, "%d bytes: must be 1-%d", len(e.KeyEnvelope), p.MaxKeyEnvelopeSize)
	}
	return nil
}

// ValidateURI checks a storage URI: an allowed scheme, a host or path, no
// credentials, at most max_uri_length characters.
func (p Params) ValidateURI(uri string) error {
	if len(uri) == 0 || len(uri) > int(p.MaxUriLength) {
		return errorsmod.Wrapf(ErrInvalidURI, "must be 1-%d characters, got %d", p.MaxUriLength, len(uri))
	}
	u, err := url.Parse(uri)
	if err != nil {
		return errorsmod.Wrap(ErrInvalidURI, err.Error())
	}
	if !slices.Contains(p.UriSchemes, u.Scheme) {
		return errorsmod.Wrapf(ErrInvalidURI, "scheme %q: want one of %s", u.Scheme, strings.Join(p.UriSchemes, ", "))
	}
	if u.User != nil {
		return errorsmod.Wrap(ErrInvalidURI, "credentials are not allowed in a storage uri")
	}
	if u.Host == "" && u.Opaque == "" && strings.Trim(u.Path, "/") == "" {
		return errorsmod.Wrap(ErrInvalidURI, "no location after the scheme")
	}
	return nil
}

// ValidatePurpose checks a purpose against the shared list.
func ValidatePurpose(purpose string) error {
	if err := consenttypes.ValidatePurpose(purpose); err != nil {
		return errorsmod.Wrap(ErrInvalidPurpose, err.Error())
	}
	return nil
}
