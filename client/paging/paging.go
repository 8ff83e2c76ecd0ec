// Package paging walks the pages of a Cosmos SDK list query.
package paging

import "github.com/cosmos/cosmos-sdk/types/query"

// Each calls page with the key of each page in turn, starting with the first
// (a nil key), until a page has no next key, page reports done, or page fails.
// page runs the query with that key and handles its items.
func Each(page func(key []byte) (resp *query.PageResponse, done bool, err error)) error {
	var key []byte
	for {
		resp, done, err := page(key)
		if err != nil || done || resp == nil || len(resp.NextKey) == 0 {
			return err
		}
		key = resp.NextKey
	}
}

// Collect gathers the items of every page into one list, stopping once it
// holds at least limit items (0: every page). page runs the query with req,
// whose Key it sets for each page (start from a request with Limit and
// Reverse as wanted).
func Collect[T any](limit int, req query.PageRequest, page func(req *query.PageRequest) ([]T, *query.PageResponse, error)) ([]T, error) {
	var out []T
	err := Each(func(key []byte) (*query.PageResponse, bool, error) {
		r := req
		r.Key = key
		items, resp, err := page(&r)
		if err != nil {
			return nil, false, err
		}
		out = append(out, items...)
		return resp, limit > 0 && len(out) >= limit, nil
	})
	return out, err
}
