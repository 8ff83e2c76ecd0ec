package types

import (
	"slices"

	errorsmod "cosmossdk.io/errors"
)

// Parameter defaults.
const (
	DefaultMaxBatchSize       = 100
	DefaultMaxRecordSize      = 4 << 30 // 4 GiB: imaging studies are large
	DefaultMaxKeyEnvelopeSize = 2048
	DefaultMaxURILength       = 512
)

// DefaultParams returns the default parameters.
func DefaultParams() Params {
	return Params{
		MaxBatchSize:       DefaultMaxBatchSize,
		MaxRecordSize:      DefaultMaxRecordSize,
		MaxKeyEnvelopeSize: DefaultMaxKeyEnvelopeSize,
		UriSchemes:         []string{"vault", "https", "ipfs"},
		MaxUriLength:       DefaultMaxURILength,
	}
}

// Validate checks the parameters.
func (p Params) Validate() error {
	switch {
	case p.MaxBatchSize == 0 || p.MaxBatchSize > 10_000:
		return errorsmod.Wrapf(ErrInvalidParams, "max_batch_size %d: want 1-10000", p.MaxBatchSize)
	case p.MaxRecordSize == 0:
		return errorsmod.Wrap(ErrInvalidParams, "max_record_size must be positive")
	case p.MaxKeyEnvelopeSize == 0 || p.MaxKeyEnvelopeSize > 65536:
		return errorsmod.Wrapf(ErrInvalidParams, "max_key_envelope_size %d: want 1-65536", p.MaxKeyEnvelopeSize)
	case p.MaxUriLength < 16 || p.MaxUriLength > 4096:
		return errorsmod.Wrapf(ErrInvalidParams, "max_uri_length %d: want 16-4096", p.MaxUriLength)
	case len(p.UriSchemes) == 0:
		return errorsmod.Wrap(ErrInvalidParams, "at least one uri scheme")
	}
	for i, s := range p.UriSchemes {
		if s == "" || slices.Contains(p.UriSchemes[:i], s) {
			return errorsmod.Wrapf(ErrInvalidParams, "uri scheme %q empty or listed twice", s)
		}
	}
	return nil
}

// MaxQueryIDs bounds the ids of one ReadDecisions or ReceiptReads query, so
// that one query's work is bounded.
const MaxQueryIDs = 256
