package paging

import (
	"errors"
	"testing"

	"github.com/cosmos/cosmos-sdk/types/query"
)

func TestEach(t *testing.T) {
	pages := [][]byte{nil, []byte("b"), []byte("c")}
	var seen []string
	err := Each(func(key []byte) (*query.PageResponse, bool, error) {
		seen = append(seen, string(key))
		i := len(seen)
		if i == len(pages) {
			return &query.PageResponse{}, false, nil
		}
		return &query.PageResponse{NextKey: pages[i]}, false, nil
	})
	if err != nil || len(seen) != 3 || seen[0] != "" || seen[1] != "b" || seen[2] != "c" {
		t.Fatalf("keys %q, %v: want every page once, from the first", seen, err)
	}

	calls := 0
	err = Each(func([]byte) (*query.PageResponse, bool, error) {
		calls++
		return &query.PageResponse{NextKey: []byte("more")}, calls == 2, nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("done after page 2: %d calls, %v", calls, err)
	}

	boom := errors.New("boom")
	calls = 0
	err = Each(func([]byte) (*query.PageResponse, bool, error) {
		calls++
		return &query.PageResponse{NextKey: []byte("more")}, false, boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("a failing page: %d calls, %v", calls, err)
	}

	calls = 0
	if err := Each(func([]byte) (*query.PageResponse, bool, error) { calls++; return nil, false, nil }); err != nil || calls != 1 {
		t.Fatalf("no page response: %d calls, %v", calls, err)
	}
}
