// The hub's schema on PostgreSQL, as numbered migrations of its own (apart from the SQLite list in
// sqlite-schema.ts: the types differ — BIGINT for ms times and sequences, BYTEA for keys and frames —
// and so do the statements). The same tables and columns as on SQLite, so that a store method reads
// the same on both. Text keys that are listed in order use the "C" collation: the order is then the
// byte order SQLite uses, whatever the database's locale.
import type { PgBridge } from './pg-bridge.js';

export interface PgMigration {
  version: number;
  sql: string;
}

export const pgHubMigrations: PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE terminal (id TEXT COLLATE "C" PRIMARY KEY, public_key TEXT NOT NULL,
        site_id TEXT COLLATE "C" NOT NULL, gate_id TEXT NOT NULL, zone TEXT NOT NULL, site_kind TEXT NOT NULL,
        registered_at BIGINT NOT NULL, last_seen_at BIGINT, status TEXT, acked BIGINT NOT NULL DEFAULT 0);
      CREATE TABLE feed (feed TEXT COLLATE "C" PRIMARY KEY, epoch TEXT NOT NULL, head BIGINT NOT NULL,
        rows BIGINT NOT NULL DEFAULT 0, digest TEXT, lineage TEXT NOT NULL DEFAULT '[]');
      CREATE TABLE batch (feed TEXT COLLATE "C" NOT NULL, to_seq BIGINT NOT NULL, from_seq BIGINT NOT NULL,
        ops BIGINT NOT NULL, published_at BIGINT NOT NULL, frame_gz BYTEA NOT NULL, digest TEXT,
        PRIMARY KEY (feed, to_seq));
      CREATE TABLE state (feed TEXT COLLATE "C" NOT NULL, k BYTEA NOT NULL, h BYTEA NOT NULL, v BYTEA NOT NULL,
        scope TEXT NOT NULL, PRIMARY KEY (feed, k));
      CREATE INDEX state_by_scope ON state (feed, scope);
      CREATE TABLE publication (id BIGSERIAL PRIMARY KEY, feed TEXT NOT NULL, at BIGINT NOT NULL,
        puts BIGINT NOT NULL, dels BIGINT NOT NULL, note TEXT NOT NULL);
      CREATE TABLE journal (terminal_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, body TEXT NOT NULL,
        hash TEXT NOT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (terminal_id, seq));
      CREATE TABLE presence (site_id TEXT COLLATE "C" NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL,
        gate_id TEXT NOT NULL, terminal_id TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (site_id, subject));
      CREATE TABLE presence_event (terminal_id TEXT NOT NULL, seq BIGINT NOT NULL, site_id TEXT NOT NULL,
        subject TEXT NOT NULL, state TEXT NOT NULL, gate_id TEXT NOT NULL, at BIGINT NOT NULL,
        grant_seq BIGINT NOT NULL, annulled INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (terminal_id, seq));
      CREATE INDEX presence_event_by_subject ON presence_event (site_id, subject, at);
      CREATE INDEX presence_event_by_grant ON presence_event (terminal_id, grant_seq);
      CREATE TABLE entry_conflict (id BIGSERIAL PRIMARY KEY, site_id TEXT NOT NULL, subject TEXT NOT NULL,
        earlier_terminal_id TEXT NOT NULL, earlier_gate_id TEXT NOT NULL, earlier_seq BIGINT NOT NULL,
        earlier_at BIGINT NOT NULL, later_terminal_id TEXT NOT NULL, later_gate_id TEXT NOT NULL,
        later_seq BIGINT NOT NULL, later_at BIGINT NOT NULL, detected_at BIGINT NOT NULL,
        resolved_at BIGINT, resolved_by TEXT, note TEXT,
        UNIQUE (earlier_terminal_id, earlier_seq, later_terminal_id, later_seq));
      CREATE INDEX entry_conflict_by_site ON entry_conflict (site_id, resolved_at);
      CREATE TABLE request_nonce (terminal_id TEXT NOT NULL, nonce TEXT NOT NULL, expires BIGINT NOT NULL,
        PRIMARY KEY (terminal_id, nonce));
      CREATE INDEX request_nonce_by_expiry ON request_nonce (expires);
      CREATE TABLE crl_scope (scope TEXT COLLATE "C" PRIMARY KEY, key_id TEXT NOT NULL, part TEXT,
        crl_number TEXT, this_update BIGINT NOT NULL, next_update BIGINT);
    `,
  },
  {
    // Several hub instances share one database: a snapshot built by one of them is kept here (in chunks)
    // for the others, and every build is logged, so that "built once per published state" can be checked.
    version: 2,
    sql: `
      CREATE TABLE snapshot (name TEXT PRIMARY KEY, feed TEXT NOT NULL, seq BIGINT NOT NULL,
        bytes BIGINT NOT NULL, built_at BIGINT NOT NULL);
      CREATE TABLE snapshot_chunk (name TEXT NOT NULL REFERENCES snapshot (name) ON DELETE CASCADE,
        n INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (name, n));
      CREATE TABLE snapshot_build (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, instance TEXT NOT NULL,
        at BIGINT NOT NULL);
    `,
  },
  {
    // A fleet, as SQLite's migration 20: one-time enrolment codes (kept as SHA-256 digests: a leaked
    // database lends no code), and each terminal's state as the operator set it, with its reason.
    // Numbered like SQLite's (fleet range) so that it never collides with another list's next number.
    version: 20,
    sql: `
      CREATE TABLE IF NOT EXISTS enrolment_code (code_sha256 TEXT COLLATE "C" PRIMARY KEY,
        site_id TEXT NOT NULL, gate_id TEXT NOT NULL, zone TEXT NOT NULL, site_kind TEXT NOT NULL,
        created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT, used_by TEXT);
      ALTER TABLE terminal ADD COLUMN IF NOT EXISTS state TEXT NOT NULL DEFAULT 'active';
      ALTER TABLE terminal ADD COLUMN IF NOT EXISTS state_reason TEXT;
      ALTER TABLE terminal ADD COLUMN IF NOT EXISTS state_at BIGINT;
      CREATE INDEX IF NOT EXISTS terminal_by_key ON terminal (public_key);
    `,
  },
  {
    // Remote configuration layers by scope (`site:<site>`, `gate:<site>/<gate>`, `terminal:<id>`), as
    // SQLite's migration 21: the version is the hub's counter at the change, so a merged version only rises.
    version: 21,
    sql: `
      CREATE TABLE IF NOT EXISTS remote_config (scope TEXT COLLATE "C" PRIMARY KEY, version BIGINT NOT NULL,
        layer TEXT NOT NULL, at BIGINT NOT NULL);
    `,
  },
  {
    // Companion seat transfers, as SQLite's migration 70: one-time codes (SHA-256 digests only); the
    // purchaser's SPKI hash sealed under a key derived from the code, so the database alone opens no
    // purchaser row.
    version: 70,
    sql: `
      CREATE TABLE IF NOT EXISTS transfer_code (code_sha256 TEXT COLLATE "C" PRIMARY KEY,
        purchaser_k TEXT NOT NULL, purchaser_scope TEXT NOT NULL, event_id TEXT NOT NULL, seat TEXT NOT NULL,
        sealed_spki BYTEA NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,
        used_by TEXT);
    `,
  },
  {
    // Signed roots of trust, as SQLite's migration 95: instances on this database follow a publisher
    // rotation made by one of them without a restart (hub-keys.ts).
    version: 95,
    sql: `
      CREATE TABLE IF NOT EXISTS hub_root (version INTEGER PRIMARY KEY, bytes BYTEA NOT NULL,
        publisher_label TEXT NOT NULL, at BIGINT NOT NULL);
    `,
  },
  {
    // An entry's double-entry check (pg-conflicts.ts) in one round trip instead of four to six: the
    // same queries as the TypeScript it replaces, run by the server. The hub's store calls are
    // synchronous round trips that hold its event loop, so a fleet's pushes paid for each of them.
    version: 90,
    sql: `
      CREATE OR REPLACE FUNCTION hub_track_entry(p_site TEXT, p_terminal TEXT, p_seq BIGINT, p_subject TEXT,
        p_state TEXT, p_gate TEXT, p_at BIGINT, p_grant BIGINT, p_detected BIGINT) RETURNS VOID
      LANGUAGE plpgsql AS $$
      DECLARE
        first_seq BIGINT;
        b presence_event;
        a presence_event;
        e presence_event;
      BEGIN
        INSERT INTO presence_event (terminal_id, seq, site_id, subject, state, gate_id, at, grant_seq, annulled)
          VALUES (p_terminal, p_seq, p_site, p_subject, p_state, p_gate, p_at, p_grant, 0) ON CONFLICT DO NOTHING;
        SELECT seq INTO first_seq FROM presence_event WHERE terminal_id = p_terminal AND grant_seq = p_grant
          ORDER BY at, seq LIMIT 1;
        IF first_seq IS DISTINCT FROM p_seq THEN RETURN; END IF;
        SELECT * INTO b FROM presence_event WHERE site_id = p_site AND subject = p_subject AND annulled = 0
          AND at <= p_at AND NOT (terminal_id = p_terminal AND grant_seq = p_grant) ORDER BY at DESC, seq DESC LIMIT 1;
        IF FOUND AND b.state = 'inside' AND b.terminal_id <> p_terminal THEN
          SELECT * INTO e FROM presence_event WHERE terminal_id = b.terminal_id AND grant_seq = b.grant_seq
            ORDER BY at, seq LIMIT 1;
          INSERT INTO entry_conflict (site_id, subject, earlier_terminal_id, earlier_gate_id, earlier_seq,
              earlier_at, later_terminal_id, later_gate_id, later_seq, later_at, detected_at)
            VALUES (p_site, p_subject, e.terminal_id, e.gate_id, e.grant_seq, e.at, p_terminal, p_gate, p_grant,
              p_at, p_detected) ON CONFLICT DO NOTHING;
        END IF;
        SELECT * INTO a FROM presence_event WHERE site_id = p_site AND subject = p_subject AND annulled = 0
          AND at > p_at AND NOT (terminal_id = p_terminal AND grant_seq = p_grant) ORDER BY at, seq LIMIT 1;
        IF FOUND AND a.state = 'inside' AND a.terminal_id <> p_terminal THEN
          SELECT seq INTO first_seq FROM presence_event WHERE terminal_id = a.terminal_id
            AND grant_seq = a.grant_seq ORDER BY at, seq LIMIT 1;
          IF first_seq = a.seq THEN
            INSERT INTO entry_conflict (site_id, subject, earlier_terminal_id, earlier_gate_id, earlier_seq,
                earlier_at, later_terminal_id, later_gate_id, later_seq, later_at, detected_at)
              VALUES (p_site, p_subject, p_terminal, p_gate, p_grant, p_at, a.terminal_id, a.gate_id,
                a.grant_seq, a.at, p_detected) ON CONFLICT DO NOTHING;
          END IF;
        END IF;
      END $$;
    `,
  },
];

/** Key of the advisory lock that serialises migrations between instances starting together. */
const MIGRATION_LOCK = 0x6a706b69; // 'jpki'

/** Applies the migrations not yet applied, in ascending version, each in its own transaction. */
export function migratePg(db: PgBridge, migrations: PgMigration[] = pgHubMigrations): void {
  db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    db.query(
      'CREATE TABLE IF NOT EXISTS hub_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    const done = new Set(db.query('SELECT version FROM hub_schema').rows.map((r) => Number(r.version)));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      db.query('BEGIN');
      try {
        db.query(m.sql);
        db.query('INSERT INTO hub_schema (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
        db.query('COMMIT');
      } catch (error) {
        db.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
