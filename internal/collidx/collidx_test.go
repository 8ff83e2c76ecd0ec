package collidx_test

import (
	"context"
	"errors"
	"testing"

	"cosmossdk.io/collections"
	"cosmossdk.io/collections/colltest"
	corestore "cosmossdk.io/core/store"

	"github.com/healthd-chain/healthd/internal/collidx"
)

// countingService counts the writes (sets and deletes) made through it.
type countingService struct {
	inner  corestore.KVStoreService
	writes *int
}

func (s countingService) OpenKVStore(ctx context.Context) corestore.KVStore {
	return countingStore{s.inner.OpenKVStore(ctx), s.writes}
}

type countingStore struct {
	corestore.KVStore
	writes *int
}

func (s countingStore) Set(k, v []byte) error { *s.writes++; return s.KVStore.Set(k, v) }
func (s countingStore) Delete(k []byte) error { *s.writes++; return s.KVStore.Delete(k) }

type item struct{ owner, state string }

type itemIndexes struct {
	byOwner *collidx.Index[uint64, collections.Pair[string, uint64], item]
}

func (i itemIndexes) IndexesList() []collections.Index[uint64, item] {
	return []collections.Index[uint64, item]{i.byOwner}
}

type itemCodec struct{}

func (itemCodec) Encode(v item) ([]byte, error) { return []byte(v.owner + "\x00" + v.state), nil }
func (itemCodec) Decode(b []byte) (item, error) {
	for i, c := range b {
		if c == 0 {
			return item{string(b[:i]), string(b[i+1:])}, nil
		}
	}
	return item{string(b), ""}, nil
}
func (itemCodec) EncodeJSON(v item) ([]byte, error) { return itemCodec{}.Encode(v) }
func (itemCodec) DecodeJSON(b []byte) (item, error) { return itemCodec{}.Decode(b) }
func (itemCodec) Stringify(v item) string           { return v.owner + "/" + v.state }
func (itemCodec) ValueType() string                 { return "item" }

// TestReferenceWritesOnlyWhenTheKeyChanges: updating a value whose indexed
// field is unchanged writes the value only; changing it moves the entry.
func TestReferenceWritesOnlyWhenTheKeyChanges(t *testing.T) {
	inner, ctx := colltest.MockStore()
	writes := 0
	sb := collections.NewSchemaBuilder(countingService{inner, &writes})
	idx := itemIndexes{byOwner: collidx.New(sb, collections.NewPrefix(1), "by_owner",
		collections.PairKeyCodec(collections.StringKey, collections.Uint64Key),
		func(pk uint64, v item) (collections.Pair[string, uint64], error) {
			return collections.Join(v.owner, pk), nil
		})}
	m := collections.NewIndexedMap(sb, collections.NewPrefix(0), "items", collections.Uint64Key, itemCodec{}, idx)
	if _, err := sb.Build(); err != nil {
		t.Fatal(err)
	}
	owned := func(owner string) []uint64 {
		t.Helper()
		var ids []uint64
		rng := collections.NewPrefixedPairRange[string, uint64](owner)
		if err := idx.byOwner.Keys().Walk(ctx, rng, func(k collections.Pair[string, uint64]) (bool, error) {
			ids = append(ids, k.K2())
			return false, nil
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}

	if err := m.Set(ctx, 7, item{"ann", "new"}); err != nil {
		t.Fatal(err)
	}
	if writes != 2 {
		t.Fatalf("a new value: %d writes, want 2 (value, index entry)", writes)
	}
	writes = 0
	if err := m.Set(ctx, 7, item{"ann", "done"}); err != nil {
		t.Fatal(err)
	}
	if writes != 1 {
		t.Fatalf("an update keeping the owner: %d writes, want 1 (the value only)", writes)
	}
	if got := owned("ann"); len(got) != 1 || got[0] != 7 {
		t.Fatalf("ann owns %v, want [7]", got)
	}
	writes = 0
	if err := m.Set(ctx, 7, item{"bob", "done"}); err != nil {
		t.Fatal(err)
	}
	if writes != 3 {
		t.Fatalf("an update changing the owner: %d writes, want 3 (value, old entry removed, new entry)", writes)
	}
	if got, old := owned("bob"), owned("ann"); len(got) != 1 || got[0] != 7 || len(old) != 0 {
		t.Fatalf("after the move: bob owns %v, ann owns %v", got, old)
	}
}

type uniqueIndexes struct {
	byOwner *collidx.Unique[string, item]
}

func (i uniqueIndexes) IndexesList() []collections.Index[uint64, item] {
	return []collections.Index[uint64, item]{i.byOwner}
}

// TestUniqueRefusesATakenKey: a unique index finds its one primary key with a
// point lookup, refuses a key another primary key holds, and, like Index,
// writes nothing when an update keeps the key.
func TestUniqueRefusesATakenKey(t *testing.T) {
	inner, ctx := colltest.MockStore()
	writes := 0
	sb := collections.NewSchemaBuilder(countingService{inner, &writes})
	idx := uniqueIndexes{byOwner: collidx.NewUnique(sb, collections.NewPrefix(1), "by_owner", collections.StringKey,
		func(_ uint64, v item) (string, error) { return v.owner, nil })}
	m := collections.NewIndexedMap(sb, collections.NewPrefix(0), "items", collections.Uint64Key, itemCodec{}, idx)
	if _, err := sb.Build(); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, 7, item{"ann", "new"}); err != nil {
		t.Fatal(err)
	}
	if pk, err := idx.byOwner.Get(ctx, "ann"); err != nil || pk != 7 {
		t.Fatalf("ann → %d, %v; want 7", pk, err)
	}
	if err := m.Set(ctx, 8, item{"ann", "copy"}); !errors.Is(err, collections.ErrConflict) {
		t.Fatalf("a second value under ann: %v, want ErrConflict", err)
	}
	writes = 0
	if err := m.Set(ctx, 7, item{"ann", "done"}); err != nil || writes != 1 {
		t.Fatalf("an update keeping the key: %v, %d writes, want 1 (the value only)", err, writes)
	}
	if err := m.Set(ctx, 7, item{"bob", "done"}); err != nil {
		t.Fatal(err)
	}
	if _, err := idx.byOwner.Get(ctx, "ann"); !errors.Is(err, collections.ErrNotFound) {
		t.Fatalf("ann after the move: %v, want not found", err)
	}
	if err := m.Remove(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := idx.byOwner.Get(ctx, "bob"); !errors.Is(err, collections.ErrNotFound) {
		t.Fatalf("bob after the removal: %v, want not found", err)
	}
}
