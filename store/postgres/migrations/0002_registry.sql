-- Schema 2: the tenant and client registry (admin API).
--
-- A tenant's administrative settings (status, root, policy, trusted CAs)
-- are one JSON document, so that a later setting needs no migration. A
-- client is one row per (tenant, name), its record JSON; a fingerprint
-- names at most one client in the whole database. Every change of a
-- tenant or client bumps kmip_registry_serial, which the nodes poll to
-- reload their identity cache.

ALTER TABLE kmip_tenants ADD COLUMN settings jsonb;

CREATE TABLE kmip_clients (
    tenant_id   text COLLATE "C" NOT NULL REFERENCES kmip_tenants (id) ON DELETE CASCADE,
    name        text COLLATE "C" NOT NULL,
    fingerprint text COLLATE "C",
    record      jsonb NOT NULL,
    revision    bigint NOT NULL CHECK (revision > 0),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE UNIQUE INDEX kmip_clients_fingerprint ON kmip_clients (fingerprint) WHERE fingerprint IS NOT NULL;

CREATE TABLE kmip_registry_serial (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    serial bigint NOT NULL
);
INSERT INTO kmip_registry_serial (id, serial) VALUES (true, 0);

-- The search path is pinned to the schema being migrated: the body names
-- its table unqualified, and nodes may connect with another search path.
CREATE FUNCTION kmip_bump_registry_serial() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE kmip_registry_serial SET serial = serial + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER kmip_tenants_registry_serial AFTER INSERT OR UPDATE OR DELETE ON kmip_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION kmip_bump_registry_serial();
CREATE TRIGGER kmip_clients_registry_serial AFTER INSERT OR UPDATE OR DELETE ON kmip_clients
    FOR EACH STATEMENT EXECUTE FUNCTION kmip_bump_registry_serial();
