-- Schema 4: checkpoints (audit chain heads, batch job progress) and
-- change notifications.
--
-- A checkpoint is one row per (kind, id) with its JSON document, written
-- with the same revision check as tenants. Written again and again by one
-- writer each (a node's audit log, a running job), read by operators.
--
-- Every change of the registry (the statement triggers of schema 2) now
-- also sends NOTIFY on channel kmip_registry with the schema's name as the
-- payload, in the same transaction: it is delivered when the change
-- commits, and not at all when it rolls back. Nodes LISTEN on the channel
-- and reload their registry cache at once (store/postgres/watch.go);
-- polling kmip_registry_serial stays as the fallback.
--
-- Statements are idempotent (IF NOT EXISTS, OR REPLACE), like the
-- migration runner that applies each file once under an advisory lock.

CREATE TABLE IF NOT EXISTS kmip_checkpoints (
    kind       text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    node       text NOT NULL,
    data       jsonb NOT NULL,
    revision   bigint NOT NULL CHECK (revision > 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, id)
);

-- The search path stays pinned to the schema being migrated, so that
-- current_schema() names it whichever search path the writer has.
CREATE OR REPLACE FUNCTION kmip_bump_registry_serial() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE kmip_registry_serial SET serial = serial + 1;
    PERFORM pg_notify('kmip_registry', current_schema());
    RETURN NULL;
END
$$;
