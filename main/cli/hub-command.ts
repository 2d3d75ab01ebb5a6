// `jpki-kiosk hub …`: the reference hub (docs/sync.md). Its folder defaults to <data.dir>/hub.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { KioskError } from '../../base/errors.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { createHub } from '../../hub/server.js';
import { importCrl } from '../../hub/import-crl.js';
import { importWhitelist } from '../../hub/import-whitelist.js';
import { statusModel } from '../../hub/status-page.js';
import { readStatusToken, statusAccessPolicy } from '../../hub/status-access.js';
import { loadIndexKey } from '../../whitelist/privacy.js';
import { initVenueDir, openVenueHub } from '../../hub/venue.js';
import { createPublicKey } from 'node:crypto';
import { userInfo } from 'node:os';
import { canonicalTerminalKey, issueEnrolmentCode } from '../../hub/enrolment.js';
import { issueTransferCodes } from '../../hub/companions.js';
import { terminalsCommand, TERMINALS_USAGE } from './hub-terminals.js';
import { enrolmentUri, formatEnrolmentCode } from '../../protocol/enrolment.js';
import { setLogLevel, type LogLevel } from '../../base/log.js';
import { refusedRemoteKeys } from '../../config/remote.js';
import { startWatchdog } from '../../base/watchdog.js';

/**
 * Connections the kernel holds for a hub whose event loop is busy (a fleet syncing or reconnecting at
 * once). Node's default, 511, drops the rest, which terminals see as resets; the kernel caps it at
 * net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const USAGE = `usage: jpki-kiosk hub <command> [--dir DIR] [--store URL] [--config FILE] [--index-key FILE] [--json]

  serve [--host H] [--port P] [--authority NAME:PORT]… [--tls-key F --tls-cert F] [--status-token-file F]
        [--log-level L] [--snapshot-min-ops N]
                               run the hub (default 127.0.0.1:8630); Ctrl-C stops it. Terminals sign the
                               authority of their sync.hubUrl; the hub accepts only --authority (default:
                               H:P; required when H is a wildcard address such as 0.0.0.0). The status page
                               needs the token in F (owner-only, ≥ 16 characters) as Bearer or as the
                               Basic auth password; without F it is served only on a loopback host.
                               GET /healthz (no token) and GET /metrics (Prometheus; the status token).
                               Logs JSON lines to stderr at --log-level (fatal, error, warn, info,
                               debug, trace, silent; default info). A terminal further behind than
                               max(N, rows / 2) operations gets a snapshot (default N 100000)
  config set --scope site:S|gate:S/G|terminal:T --file F.json
                               publish a signed configuration layer (merged site ← gate ← terminal) that
                               terminals pull, check and apply; local-only keys (paths, secrets, devices,
                               hub and identity) are refused (config/remote.ts)
  enrol-code create --site S --gate G --zone Z --kind K [--ttl SECONDS] [--hub-url URL]
                               a one-time enrolment code bound to that site, gate, zone and kind
                               (default ttl 86400 s), printed with a QR code of it (and of URL)
  transfer-code create --event E --issuer HEX --serial HEX --spki HEX [--seat S]… [--ttl SECONDS]
                               one-time codes, one per seat (default: every seat the purchaser's card
                               holds for event E), that move the seat to a companion's card at a
                               registration desk (staff mode); the card is named as in import rows
  import-whitelist FILE        publish the difference between FILE (.csv or .ndjson) and what was published
  import-crl FILE [--ca PEM]… [--allow-partition ID]…
                               check a DER/PEM CRL against the CA (default: the config's trust anchors;
                               the CA must have cRLSign) and publish the difference against the previous
                               CRL of that issuer; an expired CRL is refused, a delta CRL is applied to
                               its base, a partitioned CRL (IDP) only with --allow-partition ID
  register-terminal --id ID --public-key PEM [--site S] [--gate G] [--zone Z] [--kind K]
                               allow a terminal (its HSM key's public PEM) to sync; an id or a key
                               already registered is refused (enrolment codes are the usual way)
${TERMINALS_USAGE}
  status                       terminals, feeds and shelter occupancy, as the status page shows them
  conflicts [--site S] [--all] double entries at stadium gates (open ones; --all adds resolved ones)
  resolve-conflict ID --note TEXT [--operator NAME]
                               close a conflict after looking at it (default operator: the OS user)
  root show                    the hub's root of trust: its path (what terminals pin as sync.rootPath),
                               version, expiry, root and publisher keys
  root rotate-publisher        a new publisher key in the hub's token, root v+1 naming only it (signed by
                               the root key); the hub publishes with the new key from then on and signs
                               its stored batches again; terminals follow at their next sync
  venue delegate --site S --id VENUE_ID --public-key PEM [--days N]
                               (central hub) lend site S to a venue hub's key: a delegation signed by the
                               root key, written to delegations/S.json (copy it to the venue folder as
                               delegation.json); register VENUE_ID's request key with register-terminal
  venue init --dir VDIR        (venue) create a venue folder's keys; prints the venue key (for delegate)
                               and the request key (for register-terminal at the central hub)
  serve --venue --upstream URL --site S --id VENUE_ID [--dir VDIR] [--host H] [--port P] …
                               run a venue hub for site S: mirrors the central hub at URL, serves the
                               site's terminals, keeps its peer entries and forwards their journals; VDIR
                               needs root.json (the central root) and delegation.json (docs/operations.md)

--store postgres://USER@HOST/DB keeps terminals, feeds and journals in that PostgreSQL database instead
of <dir>/hub.db; several \`hub serve\` instances (each with a copy of the same folder) can share it
(docs/operations.md). Every command takes it, so that imports publish into the same database.

The hub folder holds hub.db, keys.json and hsm/ (its SoftHSM2 token with the publisher and root keys, and
the PIN files: keep them safe), roots/ and root.json, and index-key. The index key must be the terminals'
data.indexKey; with the demo profile it defaults to <data>/demo/index-key.`;

function out(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      store: { type: 'string' },
      config: { type: 'string' },
      'index-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8630' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      'status-token-file': { type: 'string' },
      'snapshot-min-ops': { type: 'string' },
      authority: { type: 'string', multiple: true },
      ca: { type: 'string', multiple: true },
      'allow-partition': { type: 'string', multiple: true },
      id: { type: 'string' },
      'public-key': { type: 'string' },
      site: { type: 'string' },
      gate: { type: 'string' },
      zone: { type: 'string' },
      kind: { type: 'string' },
      all: { type: 'boolean', default: false },
      note: { type: 'string' },
      operator: { type: 'string' },
      ttl: { type: 'string', default: '86400' },
      'hub-url': { type: 'string' },
      reason: { type: 'string' },
      scope: { type: 'string' },
      file: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
      venue: { type: 'boolean', default: false },
      upstream: { type: 'string' },
      days: { type: 'string' },
      event: { type: 'string' },
      seat: { type: 'string', multiple: true },
      issuer: { type: 'string' },
      serial: { type: 'string' },
      spki: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig({ file: values.config ?? null });
  let indexKeyFile = values['index-key'] ?? null;
  if (!indexKeyFile) {
    const ref = config.data.indexKey;
    if (ref && 'file' in ref) indexKeyFile = ref.file;
    else if (config.source.profile === 'demo') {
      loadIndexKey({ ref: null, dataDir: config.data.dir, demo: true }); // creates it on first use
      indexKeyFile = join(config.data.dir, 'demo', 'index-key');
    }
  }
  const dir = resolve(values.dir ?? join(config.data.dir, 'hub'));
  if (command === 'venue' && rest[0] === 'init') {
    const v = initVenueDir(dir);
    const venueKey = v.venueKey.export({ type: 'spki', format: 'pem' }).toString();
    out(
      values.json ?? false,
      { dir: v.dir, venueKey, requestKey: v.requestPublicPem },
      `venue folder ${v.dir}\nvenue key (hub venue delegate --public-key):\n${venueKey}request key (hub register-terminal --public-key):\n${v.requestPublicPem}`,
    );
    return 0;
  }
  if (command === 'serve' && values.venue) return serveVenue(values, dir, config.clock.maxSkewSeconds);
  const hub: HubDir = openHubDir(dir, { indexKeyFile, store: values.store ?? null });
  const json = values.json ?? false;
  try {
    switch (command) {
      case 'serve': {
        const level = values['log-level'] as LogLevel;
        if (!LOG_LEVELS.includes(level))
          throw new KioskError('INVALID_REQUEST', `--log-level must be one of ${LOG_LEVELS.join(', ')}`);
        setLogLevel(level);
        const port = Number(values.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new KioskError('INVALID_REQUEST', `--port ${values.port} is not a port`);
        const tls =
          values['tls-key'] && values['tls-cert']
            ? { key: readFileSync(values['tls-key']), cert: readFileSync(values['tls-cert']) }
            : null;
        const authority = values.authority && values.authority.length > 0 ? values.authority : null;
        if (!authority && ['0.0.0.0', '::', '[::]', ''].includes(values.host ?? ''))
          throw new KioskError(
            'INVALID_REQUEST',
            `--host ${values.host} listens on every address: give --authority NAME:PORT, the host and port terminals use in sync.hubUrl`,
          );
        const statusTokenFile = values['status-token-file'];
        const statusToken = statusTokenFile ? readStatusToken(statusTokenFile) : null;
        const snapshotMinOps =
          values['snapshot-min-ops'] === undefined ? undefined : Number(values['snapshot-min-ops']);
        if (snapshotMinOps !== undefined && !(Number.isSafeInteger(snapshotMinOps) && snapshotMinOps >= 0))
          throw new KioskError(
            'INVALID_REQUEST',
            `--snapshot-min-ops ${values['snapshot-min-ops']} is not a count`,
          );
        const server = createHub({
          store: hub.store,
          publisher: hub.publisher,
          roots: hub.keys,
          venues: { siteOf: (id) => hub.keys.delegations().find((d) => d.venueId === id)?.site ?? null },
          hubId: hub.hubId,
          maxSkewSeconds: config.clock.maxSkewSeconds,
          https: tls,
          ...(snapshotMinOps !== undefined ? { snapshotMinOps } : {}),
          // Port 0 (any free port): derived from the bound address once listening.
          authority:
            authority ??
            (port === 0 ? null : `${values.host!.includes(':') ? `[${values.host}]` : values.host}:${port}`),
          statusToken,
          rootFile: hub.rootFile,
        });
        const address = await server.app.listen({ host: values.host, port, backlog: LISTEN_BACKLOG });
        const bound = server.app.server.address();
        const access = statusAccessPolicy(
          bound !== null && typeof bound === 'object' ? bound.address : null,
          statusToken,
        ).kind;
        const statusPage = {
          'token-required': `needs the token in ${statusTokenFile}`,
          open: 'open to this machine only',
          'refused-no-token': 'refused until a --status-token-file is given',
        }[access];
        process.stderr.write(
          `hub ${hub.hubId} serving ${address} (folder ${dir}); status page at ${address}/ (${statusPage})\n`,
        );
        // Under systemd (WatchdogSec=): pings while the event loop runs on time and the store answers.
        const watchdog = startWatchdog({
          healthy: () => {
            hub.store.feedInfo('whitelist');
            return true;
          },
        });
        await new Promise<void>((resolveStop) => {
          const stop = () => resolveStop();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        watchdog?.stop();
        await server.close();
        return 0;
      }
      case 'import-whitelist': {
        const file = rest[0];
        if (!file) throw new KioskError('INVALID_REQUEST', 'import-whitelist needs a file');
        const r = await importWhitelist(hub.publisher, file);
        out(
          json,
          r,
          `${r.rows} rows: ${r.puts} added or changed, ${r.dels} removed, ${r.unchanged} unchanged; whitelist at ${r.head}`,
        );
        return 0;
      }
      case 'import-crl': {
        const file = rest[0];
        if (!file) throw new KioskError('INVALID_REQUEST', 'import-crl needs a file');
        const caFiles = values.ca && values.ca.length > 0 ? values.ca : [...config.trust.anchors];
        const cas = caFiles.map((f) => readFileSync(f, 'latin1'));
        const r = await importCrl(hub.store, hub.publisher, { file }, cas, file, {
          allowPartitions: values['allow-partition'] ?? [],
        });
        out(
          json,
          r,
          `${r.kind === 'delta' ? 'delta ' : ''}CRL ${r.crlNumber ?? '-'} of ${r.issuer}${r.partition ? ` (partition ${r.partition})` : ''}: ${r.entries} entries; ${r.puts} revoked, ${r.dels} no longer listed, ${r.unchanged} unchanged; next update ${r.nextUpdate}; revocations at ${r.head}`,
        );
        return 0;
      }
      case 'register-terminal': {
        if (!values.id || !values['public-key'])
          throw new KioskError('INVALID_REQUEST', 'register-terminal needs --id and --public-key');
        const publicKeyPem = canonicalTerminalKey(readFileSync(values['public-key'], 'utf8'));
        hub.store.registerTerminal(
          {
            terminalId: values.id,
            publicKeyPem,
            siteId: values.site ?? config.site.siteId,
            gateId: values.gate ?? 'gate-a',
            zone: values.zone ?? 'main',
            siteKind: values.kind ?? config.site.kind,
          },
          Date.now(),
        );
        out(json, { registered: values.id }, `terminal ${values.id} registered`);
        return 0;
      }
      case 'enrol-code': {
        if (rest[0] !== 'create')
          throw new KioskError(
            'INVALID_REQUEST',
            'hub enrol-code: create --site S --gate G --zone Z --kind K',
          );
        if (!values.site || !values.gate || !values.zone || !values.kind)
          throw new KioskError(
            'INVALID_REQUEST',
            'enrol-code create needs --site, --gate, --zone and --kind',
          );
        const ttl = Number(values.ttl);
        const { code, expiresAt } = issueEnrolmentCode(
          hub.store,
          { siteId: values.site, gateId: values.gate, zone: values.zone, siteKind: values.kind },
          ttl,
          Date.now(),
        );
        const uri = enrolmentUri(code, values['hub-url'] ?? null);
        const shown = formatEnrolmentCode(code);
        const expires = new Date(expiresAt).toISOString();
        if (json)
          out(
            true,
            {
              code: shown,
              expires,
              uri,
              site: values.site,
              gate: values.gate,
              zone: values.zone,
              kind: values.kind,
            },
            '',
          );
        else {
          const { toString: qr } = await import('qrcode');
          const picture = await qr(uri, { type: 'utf8', errorCorrectionLevel: 'M' });
          out(
            false,
            null,
            `${picture}\nenrolment code ${shown} for ${values.site}/${values.gate} (zone ${values.zone}, ${values.kind}); good once, until ${expires}`,
          );
        }
        return 0;
      }
      case 'transfer-code': {
        if (rest[0] !== 'create' || !values.event || !values.issuer || !values.serial || !values.spki)
          throw new KioskError(
            'INVALID_REQUEST',
            'hub transfer-code: create --event E --issuer HEX --serial HEX --spki HEX [--seat S]…',
          );
        const codes = issueTransferCodes(
          { store: hub.store, indexKey: hub.publisher.indexKey },
          {
            issuerKeyId: values.issuer.toLowerCase(),
            serial: values.serial.replace(/:/g, '').toLowerCase(),
            spkiSha256: values.spki.toLowerCase(),
          },
          values.event,
          (values.seat as string[] | undefined) ?? [],
          Number(values.ttl),
          Date.now(),
        );
        const shown = codes.map((c) => ({
          seat: c.seat,
          code: formatEnrolmentCode(c.code),
          expires: new Date(c.expiresAt).toISOString(),
        }));
        out(
          json,
          { event: values.event, codes: shown },
          shown.map((c) => `seat ${c.seat}: ${c.code} (good once, until ${c.expires})`).join('\n'),
        );
        return 0;
      }
      case 'config': {
        if (rest[0] !== 'set' || !values.scope || !values.file)
          throw new KioskError(
            'INVALID_REQUEST',
            'hub config set --scope site:S|gate:S/G|terminal:T --file F.json',
          );
        if (!/^(site:[^/\s]+|gate:[^/\s]+\/[^/\s]+|terminal:\S+)$/.test(values.scope))
          throw new KioskError('INVALID_REQUEST', '--scope must be site:S, gate:S/G or terminal:T');
        let layer: Record<string, unknown>;
        try {
          layer = JSON.parse(readFileSync(values.file, 'utf8')) as Record<string, unknown>;
        } catch {
          throw new KioskError('CONFIG_INVALID', `${values.file} is not a JSON object`);
        }
        const refused = refusedRemoteKeys(layer);
        if (refused.length > 0)
          throw new KioskError('CONFIG_INVALID', `a hub may not set ${refused.join(', ')} (local only)`);
        const version = hub.store.setRemoteConfig(values.scope, layer, Date.now());
        out(
          json,
          { scope: values.scope, version },
          `configuration ${version} for ${values.scope}; terminals take it at their next pull`,
        );
        return 0;
      }
      case 'terminals':
        return terminalsCommand(hub.store, rest, {
          json,
          reason: values.reason ?? null,
          publicKey: values['public-key'] ?? null,
          site: values.site ?? null,
        });
      case 'status': {
        const m = statusModel(hub.store, Date.now());
        out(
          json,
          m,
          [
            ...m.feeds.map((f) => `feed ${f.feed.padEnd(13)} sequence ${f.head}, ${f.rows} rows`),
            ...m.terminals.map(
              (t) =>
                `terminal ${t.terminalId} (${t.siteId}/${t.gateId}): last seen ${t.lastSeenSecondsAgo ?? '-'} s ago, data age ${t.dataAgeSeconds ?? '-'} s, queue ${t.queueLength ?? '-'}, version ${t.version ?? '-'}`,
            ),
            ...m.shelters.map((s) => `shelter ${s.siteId}: ${s.occupancy} inside`),
            ...m.conflicts.map(
              (c) => `site ${c.siteId}: ${c.open} open conflicts (hub conflicts --site ${c.siteId})`,
            ),
          ].join('\n'),
        );
        return 0;
      }
      case 'conflicts': {
        const list = hub.store.conflicts({ siteId: values.site, openOnly: !values.all });
        out(
          json,
          list,
          list.length === 0
            ? 'no conflicts'
            : list
                .map(
                  (c) =>
                    `#${c.id} ${c.siteId} subject ${c.subject}: ${c.earlier.gateId}/${c.earlier.terminalId} ${new Date(c.earlier.at).toISOString()}, ` +
                    `again ${c.later.gateId}/${c.later.terminalId} ${new Date(c.later.at).toISOString()}` +
                    (c.resolvedAt === null ? ' — open' : ` — resolved by ${c.resolvedBy}: ${c.note}`),
                )
                .join('\n'),
        );
        return 0;
      }
      case 'resolve-conflict': {
        const id = Number(rest[0]);
        if (!Number.isSafeInteger(id) || id <= 0)
          throw new KioskError('INVALID_REQUEST', 'resolve-conflict needs a conflict number');
        const note = values.note?.trim();
        if (!note)
          throw new KioskError('INVALID_REQUEST', 'resolve-conflict needs --note saying what was done');
        const resolved = hub.store.resolveConflict(id, {
          note,
          by: values.operator ?? userInfo().username,
          at: Date.now(),
        });
        out(json, resolved, `conflict #${id} resolved by ${resolved.resolvedBy}`);
        return 0;
      }
      case 'root': {
        const sub = rest[0];
        if (sub === 'rotate-publisher') {
          const r = hub.rotatePublisher();
          out(
            json,
            { ...r, path: hub.rootFile },
            `root v${r.version}: publisher ${r.previousKeyId} replaced by ${r.keyId}; ${r.batches} stored batches signed again; terminals follow at their next sync`,
          );
          return 0;
        }
        if (sub !== 'show' && sub !== undefined)
          throw new KioskError('INVALID_REQUEST', 'hub root: show or rotate-publisher');
        const root = hub.keys.root();
        const view = {
          path: hub.rootFile,
          version: root.version,
          expires: new Date(root.expires).toISOString(),
          threshold: root.threshold,
          rootKeys: root.rootKeys.map((k) => k.keyId),
          publishers: root.publishers.map((p) => ({ keyId: p.keyId, feeds: p.feeds })),
          keyStore: hub.keys.store,
          signingWith: hub.publisher.keyId,
        };
        out(
          json,
          view,
          [
            hub.rootFile,
            `version ${view.version}, expires ${view.expires}, threshold ${view.threshold}`,
            `root keys: ${view.rootKeys.join(', ')}`,
            ...view.publishers.map((p) => `publisher ${p.keyId}: ${p.feeds.join(', ')}`),
            `keys in: ${view.keyStore === 'pkcs11' ? 'the hub token (PKCS#11)' : 'files (tests only)'}`,
          ].join('\n'),
        );
        return 0;
      }
      case 'venue': {
        if (rest[0] !== 'delegate') throw new KioskError('INVALID_REQUEST', 'hub venue: delegate or init');
        if (!values.site || !values.id || !values['public-key'])
          throw new KioskError('INVALID_REQUEST', 'hub venue delegate needs --site, --id and --public-key');
        const days = Number(values.days ?? '365');
        if (!Number.isFinite(days) || days <= 0)
          throw new KioskError('INVALID_REQUEST', '--days must be positive');
        hub.keys.delegateVenue({
          site: values.site,
          venueId: values.id,
          venueKey: createPublicKey(readFileSync(values['public-key'])),
          validityMs: days * 86_400_000,
        });
        const file = join(hub.keys.delegationsDir, `${values.site}.json`);
        out(
          json,
          { path: file, site: values.site, venueId: values.id },
          `${file}: copy it to the venue folder as delegation.json`,
        );
        return 0;
      }
      default:
        process.stderr.write(`jpki-kiosk hub: unknown command '${command}'\n${USAGE}\n`);
        return 2;
    }
  } finally {
    hub.close();
  }
}

/** `hub serve --venue`: the hub in its relay role at a site (hub/venue.ts). */
async function serveVenue(
  values: Record<string, string | boolean | string[] | undefined>,
  dir: string,
  maxSkewSeconds: number,
): Promise<number> {
  const upstream = values.upstream as string | undefined;
  const site = values.site as string | undefined;
  const id = values.id as string | undefined;
  if (!upstream || !site || !id)
    throw new KioskError(
      'INVALID_REQUEST',
      'hub serve --venue needs --upstream URL, --site S and --id VENUE_ID',
    );
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const port = Number(values.port ?? '8630');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new KioskError('INVALID_REQUEST', `--port ${String(values.port)} is not a port`);
  const authority = (values.authority as string[] | undefined) ?? [];
  if (authority.length === 0 && ['0.0.0.0', '::', '[::]', ''].includes(host))
    throw new KioskError(
      'INVALID_REQUEST',
      `--host ${host} listens on every address: give --authority NAME:PORT`,
    );
  const tlsKey = values['tls-key'] as string | undefined;
  const tlsCert = values['tls-cert'] as string | undefined;
  const statusTokenFile = values['status-token-file'] as string | undefined;
  const caFiles = (values.ca as string[] | undefined) ?? [];
  const venue = openVenueHub({
    dir,
    site,
    venueId: id,
    upstreamUrl: upstream,
    upstreamCa: caFiles.length > 0 ? Buffer.concat(caFiles.map((f) => readFileSync(f))) : null,
    hub: {
      maxSkewSeconds,
      https: tlsKey && tlsCert ? { key: readFileSync(tlsKey), cert: readFileSync(tlsCert) } : null,
      authority:
        authority.length > 0
          ? authority
          : port === 0
            ? null
            : `${host.includes(':') ? `[${host}]` : host}:${port}`,
      statusToken: statusTokenFile ? readStatusToken(statusTokenFile) : null,
    },
  });
  const address = await venue.hub.app.listen({ host, port, backlog: LISTEN_BACKLOG });
  venue.start();
  process.stderr.write(
    `venue hub for site ${site} serving ${address} (folder ${dir}), upstream ${upstream}\n`,
  );
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  await venue.close();
  return 0;
}
/** What `jpki-kiosk hub --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
