package types

// LineageOf returns the root_id and version of record id: (id, 1) for an
// original (prev nil), and (prev.RootId, prev.Version+1) for an amendment of
// prev.
func LineageOf(id uint64, prev *Record) (rootID, version uint64) {
	if prev == nil {
		return id, 1
	}
	return prev.RootId, prev.Version + 1
}

// HasLineage is whether root_id or version is set (records written before
// upgrade v2 have neither until its migration runs).
func (r Record) HasLineage() bool { return r.RootId != 0 || r.Version != 0 }
