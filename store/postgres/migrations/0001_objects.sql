-- Schema 1: tenants, objects, and the search terms that answer Locate.
--
-- Identifiers are text in the "C" collation, so that ordering by them is
-- byte order (what the embedded store does) whatever the database's
-- locale. Names and index entries are bytea: they come from clients and
-- may hold bytes that text refuses (NUL, invalid UTF-8). KMIP enumerations
-- are uint32 and live in bigint columns.

CREATE TABLE kmip_tenants (
    id         text COLLATE "C" PRIMARY KEY,
    backend    text NOT NULL,
    key_blob   bytea,
    revision   bigint NOT NULL CHECK (revision > 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE kmip_objects (
    tenant_id    text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    object_type  bigint NOT NULL,
    state        bigint NOT NULL,
    archived     boolean NOT NULL,
    names        bytea[] NOT NULL,
    attributes   bytea,
    material     bytea,
    index_keys   bytea[] NOT NULL,
    index_values bytea[] NOT NULL,
    revision     bigint NOT NULL CHECK (revision > 0),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (cardinality(index_keys) = cardinality(index_values))
);

-- Newest first within a tenant, alone and under the two enumerations that
-- Locate filters on most; the summary columns are included so that the
-- other column filters and ID-only answers need no heap visit.
CREATE INDEX kmip_objects_created ON kmip_objects
    (tenant_id, created_at DESC, id DESC) INCLUDE (object_type, state, archived);
CREATE INDEX kmip_objects_type ON kmip_objects
    (tenant_id, object_type, created_at DESC, id DESC) INCLUDE (state, archived);
CREATE INDEX kmip_objects_state ON kmip_objects
    (tenant_id, state, created_at DESC, id DESC) INCLUDE (object_type, archived);

-- One row per distinct Name and index entry of an object: term is the
-- SHA-256 of a kind byte and the value (see objects.go), so that values of
-- any length and content compare exactly through a fixed-size key. The
-- object's creation time, type, state and archival flag are repeated here
-- (and kept in step by every update), so that a Locate on a value, with
-- or without those filters, walks one index newest first without visiting
-- the objects. The primary key finds an object's terms (updates, and "does
-- this candidate have that term"); kmip_terms_by_term finds a value's
-- objects.
CREATE TABLE kmip_terms (
    tenant_id   text COLLATE "C" NOT NULL,
    object_id   text COLLATE "C" NOT NULL,
    term        bytea NOT NULL CHECK (length(term) = 32),
    created_at  timestamptz NOT NULL,
    object_type bigint NOT NULL,
    state       bigint NOT NULL,
    archived    boolean NOT NULL,
    PRIMARY KEY (tenant_id, object_id, term),
    FOREIGN KEY (tenant_id, object_id) REFERENCES kmip_objects (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX kmip_terms_by_term ON kmip_terms
    (tenant_id, term, created_at DESC, object_id DESC) INCLUDE (object_type, state, archived);
