/**
 * Schema of several instances on one PostgreSQL (issue 14), applied as migration 3
 * (store/pg-migrations.ts). It is harmless for a single instance on PostgreSQL.
 *
 *  - The shard leases (ha/leases.ts).
 *  - A change sequence on `status`, set by a trigger on every insert and update, with the
 *    writing transaction's id: the read view of every instance (ha/coordinator.ts) polls the
 *    rows changed since its cursor, plus the rows written by transactions that were still
 *    open at its previous poll (their sequence numbers may be below the cursor: sequences
 *    are taken at write time, not at commit). That makes the poll exact without locks.
 *  - The outbox once-rule: object key, state-change id, contact and channel are unique, so a
 *    second creation of the same notification is refused (ON CONFLICT DO NOTHING); old rows
 *    have NULLs and are not concerned.
 *  - Outbox claims: the instance that delivers a row holds it until claim_until; the
 *    provider's answer (SMTP queue id) is kept in provider_id.
 */
import { LEASE_SCHEMA } from './leases.ts';

export const HA_SCHEMA = `
${LEASE_SCHEMA}
CREATE SEQUENCE status_change_seq;
ALTER TABLE status ADD COLUMN seq BIGINT NOT NULL DEFAULT 0, ADD COLUMN xid xid8;
CREATE FUNCTION hawatch_status_seq() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.seq := nextval('status_change_seq');
  NEW.xid := pg_current_xact_id();
  RETURN NEW;
END
$fn$;
CREATE TRIGGER status_seq BEFORE INSERT OR UPDATE ON status FOR EACH ROW EXECUTE FUNCTION hawatch_status_seq();
UPDATE status SET key = key;
CREATE INDEX status_seq_idx ON status(seq);
CREATE INDEX status_xid_idx ON status(xid);
ALTER TABLE outbox ADD COLUMN obj_key TEXT, ADD COLUMN change_id TEXT, ADD COLUMN claimed_by TEXT,
  ADD COLUMN claim_until TIMESTAMPTZ, ADD COLUMN provider_id TEXT;
CREATE UNIQUE INDEX outbox_once ON outbox(obj_key, change_id, contact, channel);
`;
