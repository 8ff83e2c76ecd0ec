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

func TestCollect(t *testing.T) {
	// three pages of two; the request's other fields reach every page
	pages := map[string][]int{"": {1, 2}, "b": {3, 4}, "c": {5, 6}}
	next := map[string]string{"": "b", "b": "c", "c": ""}
	page := func(req *query.PageRequest) ([]int, *query.PageResponse, error) {
		if req.Limit != 2 || !req.Reverse {
			t.Fatalf("request %+v lost its limit or order", req)
		}
		return pages[string(req.Key)], &query.PageResponse{NextKey: []byte(next[string(req.Key)])}, nil
	}
	all, err := Collect(0, query.PageRequest{Limit: 2, Reverse: true}, page)
	if err != nil || len(all) != 6 || all[5] != 6 {
		t.Fatalf("all pages: %v %v", all, err)
	}
	some, err := Collect(3, query.PageRequest{Limit: 2, Reverse: true}, page)
	if err != nil || len(some) != 4 { // stops after the page that reached the limit
		t.Fatalf("limit 3: %v %v", some, err)
	}
	if _, err := Collect(0, query.PageRequest{Limit: 2, Reverse: true}, func(*query.PageRequest) ([]int, *query.PageResponse, error) {
		return nil, nil, errors.New("node down")
	}); err == nil {
		t.Fatal("a failing page is not an error")
	}
}
