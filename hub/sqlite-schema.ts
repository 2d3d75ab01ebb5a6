// The hub database's schema, as numbered migrations (whitelist/db.ts applies them in order). Apart
// from SqliteHubStore so the tables can be read in one place; the store's queries rely on them.
import type { Migration } from '../whitelist/db.js';

export const hubMigrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE terminal (id TEXT PRIMARY KEY, public_key TEXT NOT NULL, site_id TEXT NOT NULL,
        gate_id TEXT NOT NULL, zone TEXT NOT NULL, site_kind TEXT NOT NULL, registered_at INTEGER NOT NULL,
        last_seen_at INTEGER, status TEXT, acked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE feed (feed TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL,
        rows INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE batch (feed TEXT NOT NULL, to_seq INTEGER NOT NULL, from_seq INTEGER NOT NULL,
        ops INTEGER NOT NULL, published_at INTEGER NOT NULL, frame_gz BLOB NOT NULL,
        PRIMARY KEY (feed, to_seq)) WITHOUT ROWID;
      CREATE TABLE state (feed TEXT NOT NULL, k BLOB NOT NULL, h BLOB NOT NULL, v BLOB NOT NULL,
        scope TEXT NOT NULL, PRIMARY KEY (feed, k)) WITHOUT ROWID;
      CREATE TABLE publication (id INTEGER PRIMARY KEY, feed TEXT NOT NULL, at INTEGER NOT NULL,
        puts INTEGER NOT NULL, dels INTEGER NOT NULL, note TEXT NOT NULL);
      CREATE TABLE journal (terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
        hash TEXT NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (terminal_id, seq)) WITHOUT ROWID;
      CREATE TABLE presence (site_id TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL,
        gate_id TEXT NOT NULL, terminal_id TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (site_id, subject)) WITHOUT ROWID;
      CREATE TABLE crl (issuer TEXT PRIMARY KEY, crl_number TEXT, this_update INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    // presence keeps only the latest state; telling whether an entry overlapped another one when journals
    // arrive late and out of order needs each site's presence changes in record-time order.
    version: 2,
    sql: `
      CREATE TABLE presence_event (terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, site_id TEXT NOT NULL,
        subject TEXT NOT NULL, state TEXT NOT NULL, gate_id TEXT NOT NULL, at INTEGER NOT NULL,
        grant_seq INTEGER NOT NULL, annulled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (terminal_id, seq)) WITHOUT ROWID;
      CREATE INDEX presence_event_by_subject ON presence_event (site_id, subject, at);
      CREATE INDEX presence_event_by_grant ON presence_event (terminal_id, grant_seq);
      CREATE TABLE entry_conflict (id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, subject TEXT NOT NULL,
        earlier_terminal_id TEXT NOT NULL, earlier_gate_id TEXT NOT NULL, earlier_seq INTEGER NOT NULL,
        earlier_at INTEGER NOT NULL, later_terminal_id TEXT NOT NULL, later_gate_id TEXT NOT NULL,
        later_seq INTEGER NOT NULL, later_at INTEGER NOT NULL, detected_at INTEGER NOT NULL,
        resolved_at INTEGER, resolved_by TEXT, note TEXT,
        UNIQUE (earlier_terminal_id, earlier_seq, later_terminal_id, later_seq));
      CREATE INDEX entry_conflict_by_site ON entry_conflict (site_id, resolved_at);
    `,
  },
  {
    // Sync v2: the chain digest after each batch and at each feed's head (protocol/checkpoint.ts), and the
    // epochs a feed's current epoch succeeds (signed into snapshot manifests). Batches held from v1 have no
    // digest: a v1 hub directory is not upgraded in place (no terminal was deployed); start a new one.
    version: 3,
    sql: `
      ALTER TABLE batch ADD COLUMN digest TEXT;
      ALTER TABLE feed ADD COLUMN digest TEXT;
      ALTER TABLE feed ADD COLUMN lineage TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    // Request nonces outlive a restart: a signed request captured before it stays refused after it while
    // its time would still pass the skew check. Rows past `expires` are pruned.
    version: 4,
    sql: `
      CREATE TABLE request_nonce (terminal_id TEXT NOT NULL, nonce TEXT NOT NULL, expires INTEGER NOT NULL,
        PRIMARY KEY (terminal_id, nonce)) WITHOUT ROWID;
      CREATE INDEX request_nonce_by_expiry ON request_nonce (expires);
    `,
  },
  {
    // The CRL status the hub publishes to terminals (protocol/crl-status.ts), per scope the CRL replaces
    // (the issuer key id, or `<key id>#<partition>` for an allowed IDP partition). Written so that it can
    // run again over a file that already has it.
    version: 5,
    sql: `
      CREATE TABLE IF NOT EXISTS crl_scope (scope TEXT PRIMARY KEY, key_id TEXT NOT NULL, part TEXT,
        crl_number TEXT, this_update INTEGER NOT NULL, next_update INTEGER) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS crl (issuer TEXT PRIMARY KEY, crl_number TEXT, this_update INTEGER NOT NULL)
        WITHOUT ROWID;
      INSERT OR IGNORE INTO crl_scope (scope, key_id, part, crl_number, this_update, next_update)
        SELECT issuer, issuer, NULL, crl_number, this_update, NULL FROM crl;
      DROP TABLE IF EXISTS crl;
    `,
  },
  {
    // A fleet: one-time enrolment codes (kept as SHA-256 digests: a leaked database lends no code), and
    // each terminal's state as the operator set it (active, disabled, retiring, retired) with its reason.
    version: 20,
    sql: `
      CREATE TABLE IF NOT EXISTS enrolment_code (code_sha256 TEXT PRIMARY KEY, site_id TEXT NOT NULL,
        gate_id TEXT NOT NULL, zone TEXT NOT NULL, site_kind TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, used_at INTEGER, used_by TEXT) WITHOUT ROWID;
      ALTER TABLE terminal ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
      ALTER TABLE terminal ADD COLUMN state_reason TEXT;
      ALTER TABLE terminal ADD COLUMN state_at INTEGER;
      CREATE INDEX IF NOT EXISTS terminal_by_key ON terminal (public_key);
    `,
  },
  {
    // Remote configuration layers by scope (`site:<site>`, `gate:<site>/<gate>`, `terminal:<id>`); the
    // version is the hub's counter at the time of the change, so a terminal's merged version only rises.
    version: 21,
    sql: `
      CREATE TABLE IF NOT EXISTS remote_config (scope TEXT PRIMARY KEY, version INTEGER NOT NULL,
        layer TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    // Companion seat transfers: one-time codes (SHA-256 digests only); the purchaser's SPKI hash sealed
    // under a key derived from the code, so the database alone opens no purchaser row.
    version: 70,
    sql: `
      CREATE TABLE IF NOT EXISTS transfer_code (code_sha256 TEXT PRIMARY KEY, purchaser_k TEXT NOT NULL,
        purchaser_scope TEXT NOT NULL, event_id TEXT NOT NULL, seat TEXT NOT NULL, sealed_spki BLOB NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, used_at INTEGER, used_by TEXT) WITHOUT ROWID;
    `,
  },
  {
    // Signed roots of trust with the publisher key label each names: instances sharing this store follow
    // a publisher rotation made by one of them without a restart (hub-keys.ts).
    version: 95,
    sql: `
      CREATE TABLE IF NOT EXISTS hub_root (version INTEGER PRIMARY KEY, bytes BLOB NOT NULL,
        publisher_label TEXT NOT NULL, at INTEGER NOT NULL);
    `,
  },
];
