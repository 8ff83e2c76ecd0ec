// Package collidx is a secondary index for collections.IndexedMap whose key set
// is reachable, so that list queries can paginate it with a prefix, and the
// pagination helper that does so.
//
// collections' own indexes.Multi keeps its key set private, and the SDK's
// query.CollectionPaginate needs raw iteration over it; healthd's list queries
// (by patient, by grantee, by author, with an optional status or class) are
// prefixes of composite keys, so each index is a KeySet[K] of composite keys
// computed from the primary key (a uint64 sequence id for records, receipts
// and consents; an address for providers) and the value.
package collidx

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"cosmossdk.io/collections"
	collcodec "cosmossdk.io/collections/codec"

	"github.com/cosmos/cosmos-sdk/types/query"
)

// Index indexes values of an IndexedMap[PK, V] under composite keys K
// (typically a Pair or Triple ending with the primary key).
type Index[PK, K, V any] struct {
	keys  collections.KeySet[K]
	codec collcodec.KeyCodec[K]
	key   func(pk PK, v V) (K, error)
}

// New returns an index stored under prefix. key computes the index key of a
// value; it must be a pure function of (pk, v).
func New[PK, K, V any](sb *collections.SchemaBuilder, prefix collections.Prefix, name string,
	codec collcodec.KeyCodec[K], key func(pk PK, v V) (K, error),
) *Index[PK, K, V] {
	return &Index[PK, K, V]{
		keys:  collections.NewKeySet(sb, prefix, name, codec, collections.WithKeySetSecondaryIndex()),
		codec: codec,
		key:   key,
	}
}

// Keys is the index's key set, for iteration and pagination.
func (i *Index[PK, K, V]) Keys() collections.KeySet[K] { return i.keys }

// Reference implements collections.Index: it moves the entry when the indexed
// fields of the value change, and writes nothing when they do not (an update
// that keeps the key would otherwise rewrite it, one more IAVL write per index).
func (i *Index[PK, K, V]) Reference(ctx context.Context, pk PK, v V, lazyOld func() (V, error)) error {
	k, err := i.key(pk, v)
	if err != nil {
		return err
	}
	old, err := lazyOld()
	switch {
	case err == nil:
		oldKey, err := i.key(pk, old)
		if err != nil {
			return err
		}
		same, err := i.equal(oldKey, k)
		if err != nil || same {
			return err
		}
		if err := i.keys.Remove(ctx, oldKey); err != nil {
			return err
		}
	case !errors.Is(err, collections.ErrNotFound):
		return err
	}
	return i.keys.Set(ctx, k)
}

// equal reports whether a and b encode to the same bytes.
func (i *Index[PK, K, V]) equal(a, b K) (bool, error) { return equalKeys(i.codec, a, b) }

func equalKeys[K any](codec collcodec.KeyCodec[K], a, b K) (bool, error) {
	encode := func(k K) ([]byte, error) {
		buf := make([]byte, codec.Size(k))
		n, err := codec.Encode(buf, k)
		return buf[:n], err
	}
	ab, err := encode(a)
	if err != nil {
		return false, err
	}
	bb, err := encode(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ab, bb), nil
}

// Unreference implements collections.Index.
func (i *Index[PK, K, V]) Unreference(ctx context.Context, pk PK, lazyOld func() (V, error)) error {
	old, err := lazyOld()
	if err != nil {
		return err
	}
	k, err := i.key(pk, old)
	if err != nil {
		return err
	}
	return i.keys.Remove(ctx, k)
}

// Unique is a unique secondary index of an IndexedMap[uint64, V]: each index
// key names one primary key (a Map[K]uint64), found with a point lookup. Use it
// where a transaction asks "is this key taken?": iterating a prefix instead,
// in a block's cache store, costs as much as every write before it in the
// block (measured: 91 µs → 1.9 ms per record after 10,000 writes).
type Unique[K, V any] struct {
	m     collections.Map[K, uint64]
	codec collcodec.KeyCodec[K]
	key   func(pk uint64, v V) (K, error)
}

// NewUnique returns a unique index stored under prefix. key must be a pure
// function of (pk, v).
func NewUnique[K, V any](sb *collections.SchemaBuilder, prefix collections.Prefix, name string,
	codec collcodec.KeyCodec[K], key func(pk uint64, v V) (K, error),
) *Unique[K, V] {
	return &Unique[K, V]{
		m:     collections.NewMap(sb, prefix, name, codec, collections.Uint64Value),
		codec: codec,
		key:   key,
	}
}

// Get returns the primary key indexed under k, or collections.ErrNotFound.
func (u *Unique[K, V]) Get(ctx context.Context, k K) (uint64, error) { return u.m.Get(ctx, k) }

// Reference implements collections.Index: like Index.Reference, it writes
// nothing when an update keeps the key; a key another primary key holds is
// collections.ErrConflict.
func (u *Unique[K, V]) Reference(ctx context.Context, pk uint64, v V, lazyOld func() (V, error)) error {
	k, err := u.key(pk, v)
	if err != nil {
		return err
	}
	old, err := lazyOld()
	switch {
	case err == nil:
		oldKey, err := u.key(pk, old)
		if err != nil {
			return err
		}
		same, err := equalKeys(u.codec, oldKey, k)
		if err != nil || same {
			return err
		}
		if err := u.m.Remove(ctx, oldKey); err != nil {
			return err
		}
	case !errors.Is(err, collections.ErrNotFound):
		return err
	}
	holder, err := u.m.Get(ctx, k)
	switch {
	case err == nil && holder != pk:
		return fmt.Errorf("%w: %s is indexed to %d", collections.ErrConflict, u.codec.Stringify(k), holder)
	case err != nil && !errors.Is(err, collections.ErrNotFound):
		return err
	}
	return u.m.Set(ctx, k, pk)
}

// Unreference implements collections.Index.
func (u *Unique[K, V]) Unreference(ctx context.Context, pk uint64, lazyOld func() (V, error)) error {
	old, err := lazyOld()
	if err != nil {
		return err
	}
	k, err := u.key(pk, old)
	if err != nil {
		return err
	}
	return u.m.Remove(ctx, k)
}

// Page paginates the index keys under prefix (nil: all) and loads the value of
// each with load (given the primary key extracted with pk). It returns the
// values in key order and the page response.
func Page[K, T any](ctx context.Context, keys collections.KeySet[K], prefix *K, req *query.PageRequest,
	pk func(K) uint64, load func(id uint64) (T, error),
) ([]T, *query.PageResponse, error) {
	return FilteredPage(ctx, keys, prefix, req, pk, load, nil)
}

// FilteredPage is Page keeping only the values keep accepts (all if keep is
// nil): limits, offsets and totals count kept values, and the next key points
// past the last value read.
func FilteredPage[K, T any](ctx context.Context, keys collections.KeySet[K], prefix *K, req *query.PageRequest,
	pk func(K) uint64, load func(id uint64) (T, error), keep func(T) bool,
) ([]T, *query.PageResponse, error) {
	opts := func(o *query.CollectionsPaginateOptions[K]) { o.Prefix = prefix }
	if keep == nil {
		return query.CollectionPaginate(ctx, keys, req,
			func(k K, _ collections.NoValue) (T, error) { return load(pk(k)) }, opts)
	}
	// the predicate loads the value; the transform, called next for the same
	// key when it is kept, reuses it
	var last T
	return query.CollectionFilteredPaginate(ctx, keys, req,
		func(k K, _ collections.NoValue) (bool, error) {
			v, err := load(pk(k))
			if err != nil {
				return false, err
			}
			last = v
			return keep(v), nil
		},
		func(K, collections.NoValue) (T, error) { return last, nil }, opts)
}
