// Package storetest is the conformance suite of store.Store: the tests that
// define what a store means (round trips, tenant isolation, revision
// conflicts, List filters (index entries, states, storage, ID, Filter),
// order and paging, counts, tenants, cancellation, Close, concurrent
// writers and readers, names and keys that are not text), and the optional
// store.Scanner and store.Importer for the stores that implement them.
// Every implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := bbolt.Open(filepath.Join(t.TempDir(), "kmip.db"))
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// It is a normal (non-test) package so that implementations in other
// packages can import it; only tests should.
package storetest
