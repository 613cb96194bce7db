// Package postgres is the store.Store of active-active deployments: any
// number of kmip-adapter nodes share one PostgreSQL database (made highly
// available by PostgreSQL's own replication), and each node keeps nothing
// but caches.
//
// Schema (migrations/*.sql, applied by Open):
//
//	kmip_schema_migrations  version, name, applied_at: what Open applied
//	kmip_tenants            id, backend, key_blob, revision, timestamps
//	kmip_objects            (tenant_id, id), object_type, state, archived,
//	                        names, attributes, material, index_keys,
//	                        index_values, revision, created_at, updated_at
//	kmip_terms              (tenant_id, object_id, term), created_at: one
//	                        row per distinct Name and index entry
//	kmip_clients, kmip_registry_serial: the client registry (schema 2)
//	kmip_checkpoints        (kind, id), node, data jsonb, revision: audit
//	                        chain heads and batch job progress (schema 4)
//
// Change notifications: every change of the registry sends NOTIFY
// kmip_registry (payload: the schema) in its transaction; Watch (watch.go)
// LISTENs on a connection of its own and tells the node at once. Object
// writes send none: nodes cache no object, and a NOTIFY serializes the
// commits that send one.
//
// Migrations are numbered files, each applied once in its own
// transaction with its row in kmip_schema_migrations. Open takes a
// PostgreSQL advisory lock (per schema) around them, so nodes that start
// together wait for one another and the later ones find the work done; a
// database that a newer build migrated is refused. The schema is the
// first of the connection's search_path (set it in the DSN to keep
// several stores in one database).
//
// Consistency: every write is one statement (an object, its terms and
// their removal together) or one transaction, so no reader sees an object
// without its terms or the reverse, and a write cut short by a lost
// connection leaves nothing. Updates are optimistic: UPDATE ... WHERE
// revision = the revision the writer read; when two nodes change one
// object at once, the second waits for the first's row lock, finds the
// revision moved on, writes nothing and gets store.ErrConflict (the kmip
// package re-reads and applies its change again), so no update is lost.
//
// Locate: ListQuery's column filters (ObjectType, State, States,
// NotStates, Storage, ID) are conditions on indexed columns of
// kmip_objects; each Name and Match entry is a semi-join on kmip_terms,
// whose term is the SHA-256 of the value (any length, any bytes, one
// fixed-size B-tree key). Results are ordered by (created_at, id)
// descending, which the indexes hold in that order, so that a Locate with
// a Limit over a large tenant stops early, and one on a rare value reads
// only that value's objects. Queries with a Filter read candidates in
// batches, newest first, inside one read-only REPEATABLE READ transaction.
// Timestamps are kept to the microsecond.
//
// Errors: a database that cannot be reached, is shutting down or starting,
// refuses writes (a standby after a failover) or does not answer within
// the query timeout is store.ErrUnavailable; the pool replaces broken
// connections by itself, so a node recovers without a restart once the
// database is back. Reads are retried once after such an error (a pooled
// connection to a restarted server fails once); writes are not, since
// one may have committed before its answer was lost.
package postgres
