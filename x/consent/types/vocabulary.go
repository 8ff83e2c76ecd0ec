package types

import (
	"slices"

	errorsmod "cosmossdk.io/errors"
)

// DataClasses is the fixed list of data classes a consent (and a record) can
// name. x/records uses the same list. Adding a class is a consensus change.
var DataClasses = []string{
	"diagnosis",     // FHIR Condition
	"lab-result",    // FHIR Observation (laboratory)
	"vital-signs",   // FHIR Observation (vital-signs)
	"prescription",  // FHIR MedicationRequest
	"allergy",       // FHIR AllergyIntolerance
	"immunization",  // FHIR Immunization
	"procedure",     // FHIR Procedure
	"imaging",       // FHIR ImagingStudy, DiagnosticReport (imaging)
	"clinical-note", // FHIR DocumentReference, Composition
	"mental-health", // sensitive: psychiatric and psychological care
	"genomic",       // sensitive: genetic and genomic data
	"other",         // anything not covered above
}

// DefaultEmergencyClasses are the classes a patient escrows unless it chooses
// others: what an emergency physician needs first.
var DefaultEmergencyClasses = []string{"allergy", "prescription", "diagnosis", "immunization", "vital-signs", "lab-result"}

// Purposes are the HL7 v3 ActReason codes a consent can name (FHIR
// Consent.provision.purpose).
var Purposes = []string{
	"TREAT",   // treatment
	"ETREAT",  // emergency treatment (break-glass uses only this)
	"HPAYMT",  // healthcare payment
	"HOPERAT", // healthcare operations
	"HRESCH",  // healthcare research
	"PATRQT",  // patient requested
}

// Permission values.
const (
	PermissionRead  = "read"
	PermissionWrite = "write"
)

// Permissions are the permissions a consent can grant.
var Permissions = []string{PermissionRead, PermissionWrite}

// PurposeEmergency is the only purpose of a break-glass access.
const PurposeEmergency = "ETREAT"

// PurposePatientRequest ("patient requested") is the purpose a patient's
// reads of her own records are asked of the chain for; the access rule
// allows a patient her own records for any purpose.
const PurposePatientRequest = "PATRQT"

// ValidateDataClass checks one data class.
func ValidateDataClass(c string) error {
	if !slices.Contains(DataClasses, c) {
		return errorsmod.Wrapf(ErrInvalidDataClass, "%q: want one of %v", c, DataClasses)
	}
	return nil
}

// ValidatePurpose checks one purpose.
func ValidatePurpose(p string) error {
	if !slices.Contains(Purposes, p) {
		return errorsmod.Wrapf(ErrInvalidPurpose, "%q: want one of %v", p, Purposes)
	}
	return nil
}

// ValidatePermission checks one permission.
func ValidatePermission(p string) error {
	if !slices.Contains(Permissions, p) {
		return errorsmod.Wrapf(ErrInvalidPermission, "%q: want read or write", p)
	}
	return nil
}

// validateSet checks a non-empty list without duplicates, each element valid.
func validateSet(field string, values []string, each func(string) error, none error) error {
	if len(values) == 0 {
		return errorsmod.Wrapf(none, "at least one %s is required", field)
	}
	for i, v := range values {
		if err := each(v); err != nil {
			return err
		}
		if slices.Contains(values[:i], v) {
			return errorsmod.Wrapf(none, "%s %q listed twice", field, v)
		}
	}
	return nil
}

// ValidateTerms checks what a consent covers: non-empty, duplicate-free lists of
// valid permissions, data classes and purposes.
func ValidateTerms(permissions, dataClasses, purposes []string) error {
	if err := validateSet("permission", permissions, ValidatePermission, ErrInvalidPermission); err != nil {
		return err
	}
	if err := validateSet("data class", dataClasses, ValidateDataClass, ErrInvalidDataClass); err != nil {
		return err
	}
	return validateSet("purpose", purposes, ValidatePurpose, ErrInvalidPurpose)
}

// AccessDecision is the outcome of the access rule (keeper.CheckAccess).
type AccessDecision struct {
	// Allowed is the decision.
	Allowed bool
	// ConsentID is the consent that allows it (0 if none, or for the patient).
	ConsentID uint64
	// Reason explains the decision.
	Reason AccessReason
	// Emergency is true if a break-glass access allows it.
	Emergency bool
}
