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
