// Loads the configuration once: schema defaults ← the profile preset ← the site's file. The result is
// validated, its paths resolved, and deep-frozen. An invalid file stops the program with the key, the
// value found and what was expected.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { configFolder, projectRoot } from './paths.js';
import { checkTrustFile, readSecret, staffPinProblem } from './secrets.js';
import { enrolmentLayer, readEnrolment } from './enrolment.js';
import { upgradeConfigLayer } from './upgrade.js';
import { readRemoteConfig } from './remote.js';
import {
  ConfigSchema,
  ProfileNames,
  type KioskConfigParsed,
  type ProfileName,
  type SecretRef,
} from './schema.js';

export type KioskConfig = DeepReadonly<KioskConfigParsed> & { readonly source: ConfigSource };

export interface ConfigSource {
  /** The site's file, or null for an embedded profile. */
  file: string | null;
  profile: ProfileName;
  /** True when the running build is a packaged kiosk: environment overrides are then ignored. */
  packaged: boolean;
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export interface LoadOptions {
  /** A site's config file (JSON). */
  file?: string | null;
  /** Profile to use when no file is given, or to check that the file's profile is what was asked. */
  profile?: ProfileName;
  env?: NodeJS.ProcessEnv;
  packaged?: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A secret reference ({env} or {file}) is one value: a site's reference replaces the profile's whole. */
function isSecretRef(value: JsonObject): boolean {
  return 'env' in value || 'file' in value;
}

/** Objects merge key by key; arrays, scalars and secret references from the later layer replace. */
export function mergeLayers(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] = isObject(prior) && isObject(value) && !isSecretRef(value) ? mergeLayers(prior, value) : value;
  }
  return out;
}

function readJson(file: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new KioskError('CONFIG_NOT_FOUND', `configuration file ${file} cannot be read`, { file });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new KioskError('CONFIG_INVALID', `${file}: not valid JSON (${(error as Error).message})`, { file });
  }
  if (!isObject(parsed))
    throw new KioskError('CONFIG_INVALID', `${file}: the top level must be an object`, { file });
  return parsed;
}

export function presetPath(profile: ProfileName): string {
  return join(configFolder(), 'profiles', `${profile}.json`);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key as string];
  }
  return node;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, origin: string): string {
  return issues
    .map((issue) => {
      const key = issue.path.map(String).join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const names = issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`));
        return `unknown key ${names.join(', ')}: not part of the configuration schema`;
      }
      const found = valueAt(input, issue.path);
      const shown = found === undefined ? 'missing' : JSON.stringify(found);
      return `key ${key}: found ${shown}; ${issue.message}`;
    })
    .map((line) => `${origin}: ${line}`)
    .join('\n');
}

function resolvePathValue(value: string, base: string, dataDir: string): string {
  const expanded = value
    .replaceAll('${config}', configFolder())
    .replaceAll('${root}', projectRoot())
    .replaceAll('${data}', dataDir);
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}

function resolveSecret(ref: SecretRef, base: string, dataDir: string): SecretRef {
  return 'file' in ref ? { file: resolvePathValue(ref.file, base, dataDir) } : ref;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as object)) deepFreeze(inner);
  }
  return value;
}

export function loadConfig(options: LoadOptions = {}): KioskConfig {
  const env = options.env ?? process.env;
  const packaged = options.packaged ?? false;
  // A packaged kiosk ignores environment overrides: its file is the one next to it, nothing else.
  const file = options.file ?? (packaged ? null : (env.JPKI_CONFIG ?? null));
  const fileLayer = file ? readJson(resolve(file)) : {};
  const fileProfile = fileLayer.profile;
  if (fileProfile !== undefined && !(ProfileNames as readonly unknown[]).includes(fileProfile)) {
    throw new KioskError(
      'CONFIG_INVALID',
      `${file}: key profile: found ${JSON.stringify(fileProfile)}; expected one of ${ProfileNames.join(', ')}`,
      { key: 'profile' },
    );
  }
  const profile =
    (fileProfile as ProfileName | undefined) ?? options.profile ?? developmentProfile(file, packaged);
  if (packaged && profile === 'demo') {
    throw new KioskError(
      'CONFIG_INVALID',
      `${file ?? 'configuration'}: key profile: found "demo"; a packaged kiosk runs only a site profile (${ProfileNames.filter((p) => p !== 'demo').join(', ')})`,
      { key: 'profile' },
    );
  }
  const preset = presetPath(profile);
  if (!existsSync(preset))
    throw new KioskError('CONFIG_NOT_FOUND', `profile preset ${preset} is missing`, { profile });
  // Each layer is brought to the current version before they merge (config/upgrade.ts).
  let merged = mergeLayers(
    upgradeConfigLayer(readJson(preset), preset),
    upgradeConfigLayer(fileLayer, file ?? preset),
  );

  const parse = (input: JsonObject) => {
    const result = ConfigSchema.safeParse(input);
    if (!result.success) {
      throw new KioskError('CONFIG_INVALID', describeIssues(result.error.issues, input, file ?? preset), {
        keys: result.error.issues.map((i) => i.path.join('.')),
      });
    }
    return result.data;
  };
  let config = parse(merged);
  const base = file ? dirname(resolve(file)) : projectRoot();
  const dataDir = resolvePathValue(config.data.dir, base, projectRoot());
  // A terminal enrolled at a hub runs with the binding the hub gave it (config/enrolment.ts).
  const enrolment = readEnrolment(dataDir);
  if (enrolment) {
    merged = mergeLayers(
      merged,
      enrolmentLayer(dataDir, enrolment, config.sync.rootPath !== null) as JsonObject,
    );
    config = parse(merged);
  }
  // The last good remote configuration from the hub (config/remote.ts), over everything else.
  const remote = readRemoteConfig(dataDir);
  if (remote) {
    const withRemote = mergeLayers(merged, remote.layer as JsonObject);
    if (ConfigSchema.safeParse(withRemote).success) {
      merged = withRemote;
      config = parse(merged);
    }
  }
  const at = (p: string) => resolvePathValue(p, base, dataDir);
  const resolved: KioskConfigParsed = {
    ...config,
    trust: { ...config.trust, anchors: config.trust.anchors.map(at) },
    hsm: {
      ...config.hsm,
      module:
        config.hsm.module.includes('${') || config.hsm.module.startsWith('.')
          ? at(config.hsm.module)
          : config.hsm.module,
      certificatePath: config.hsm.certificatePath === null ? null : at(config.hsm.certificatePath),
      softhsmConf: config.hsm.softhsmConf === null ? null : at(config.hsm.softhsmConf),
      userPin: resolveSecret(config.hsm.userPin, base, dataDir),
    },
    data: {
      ...config.data,
      dir: dataDir,
      indexKey: config.data.indexKey === null ? null : resolveSecret(config.data.indexKey, base, dataDir),
    },
    policy: {
      ...config.policy,
      hospital: { ...config.policy.hospital, folder: at(config.policy.hospital.folder) },
      shelter: { ...config.policy.shelter, rosterDir: at(config.policy.shelter.rosterDir) },
      kiosk: {
        ...config.policy.kiosk,
        posHandoffDir:
          config.policy.kiosk.posHandoffDir === null ? null : at(config.policy.kiosk.posHandoffDir),
        providers: Object.fromEntries(
          Object.entries(config.policy.kiosk.providers).map(([id, p]) => [
            id,
            { ...p, caFile: p.caFile === null ? null : at(p.caFile) },
          ]),
        ),
      },
    },
    printing: { ...config.printing, folder: at(config.printing.folder) },
    sync: {
      ...config.sync,
      rootPath: config.sync.rootPath === null ? null : at(config.sync.rootPath),
      caFile: config.sync.caFile === null ? null : at(config.sync.caFile),
    },
    ui: { ...config.ui, staffPin: resolveSecret(config.ui.staffPin, base, dataDir) },
    log: { ...config.log, dir: at(config.log.dir) },
    metrics: {
      ...config.metrics,
      token: config.metrics.token === null ? null : resolveSecret(config.metrics.token, base, dataDir),
    },
  };
  if (resolved.metrics.enabled && !isLoopbackHost(resolved.metrics.host) && resolved.metrics.token === null)
    throw new KioskError(
      'CONFIG_INVALID',
      `${file ?? preset}: key metrics.token: found null; required when metrics.host (${resolved.metrics.host}) is not a loopback address`,
      { key: 'metrics.token' },
    );
  if (profile !== 'demo' && resolved.trust.allowTestCa) {
    throw new KioskError(
      'CONFIG_INVALID',
      `${file ?? preset}: key trust.allowTestCa: found true; only the demo profile may trust a test CA`,
      {
        key: 'trust.allowTestCa',
      },
    );
  }
  checkHubTransport(resolved.sync, profile, file ?? preset);
  checkStaffPin(resolved, profile, file ?? preset, env);
  // Whoever may write a trust file decides which cards, or which hub, the terminal believes.
  for (const anchor of resolved.trust.anchors) checkTrustFile(anchor, 'key trust.anchors');
  if (resolved.sync.rootPath) checkTrustFile(resolved.sync.rootPath, 'key sync.rootPath');
  if (resolved.sync.caFile) checkTrustFile(resolved.sync.caFile, 'key sync.caFile');
  checkKioskServices(resolved.policy.kiosk, profile, file ?? preset);
  return deepFreeze({ ...resolved, source: { file: file ? resolve(file) : null, profile, packaged } });
}

/**
 * The profile when neither the site's file nor the caller names one: the demo, but only for a source
 * checkout started without a file (`npm start`). A site's file must say what it is, and a packaged
 * kiosk never falls back to the demo (its wallet, test CA and software gate).
 */
function developmentProfile(file: string | null, packaged: boolean): ProfileName {
  if (!file && !packaged) return 'demo';
  throw new KioskError(
    'CONFIG_INVALID',
    `${file ?? 'configuration'}: key profile: missing; name the site's profile (one of ${ProfileNames.filter((p) => p !== 'demo').join(', ')})`,
    { key: 'profile' },
  );
}

/**
 * The staff PIN's length, when it can be read now: outside the demo at least six digits. A secret that
 * is not readable yet is checked again when staff first unlock (config/secrets.ts readStaffPin).
 */
function checkStaffPin(
  config: KioskConfigParsed,
  profile: ProfileName,
  origin: string,
  env: NodeJS.ProcessEnv,
): void {
  let pin: string;
  try {
    pin = readSecret(config.ui.staffPin, 'staff PIN (ui.staffPin)', env);
  } catch {
    return;
  }
  const problem = staffPinProblem(pin, profile === 'demo');
  if (problem)
    throw new KioskError('CONFIG_INVALID', `${origin}: key ui.staffPin: the staff PIN ${problem}`, {
      key: 'ui.staffPin',
    });
}

/** 127.0.0.0/8, ::1 and localhost: an exchange that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Anyone on the path of a plain-HTTP exchange reads and changes it; request signatures and signed feeds
 * do not hide what is asked or stop an answer from being withheld. So: `https:` outside the demo, `http:`
 * only to loopback; and a CA file that is named must be there (checked again when sync starts).
 */
function checkHubTransport(sync: KioskConfigParsed['sync'], profile: ProfileName, origin: string): void {
  const named: Array<[string, string]> = [
    ...(sync.hubUrl !== null ? [['sync.hubUrl', sync.hubUrl] as [string, string]] : []),
    ...sync.hubUrls.map((u, i): [string, string] => [`sync.hubUrls.${i}`, u]),
  ];
  for (const [key, hubUrl] of profile !== 'demo' ? named : []) {
    const url = new URL(hubUrl);
    const plainOk = url.protocol === 'http:' && isLoopbackHost(url.hostname);
    if (url.protocol !== 'https:' && !plainOk)
      throw new KioskError(
        'CONFIG_INVALID',
        `${origin}: key ${key}: found ${JSON.stringify(hubUrl)}; must be https: (plain http: only to a loopback address: 127.0.0.0/8, ::1, localhost)`,
        { key },
      );
  }
  if (sync.caFile !== null) readSyncCa(sync.caFile);
}

/** Each service names a configured provider; providers are https: (http: only to loopback) like the hub. */
function checkKioskServices(
  kiosk: KioskConfigParsed['policy']['kiosk'],
  profile: ProfileName,
  origin: string,
): void {
  const ids = new Set<string>();
  for (const [i, service] of kiosk.services.entries()) {
    if (ids.has(service.id))
      throw new KioskError(
        'CONFIG_INVALID',
        `${origin}: key policy.kiosk.services.${i}.id: ${service.id} appears twice`,
        {
          key: `policy.kiosk.services.${i}.id`,
        },
      );
    ids.add(service.id);
    if (!kiosk.providers[service.provider])
      throw new KioskError(
        'CONFIG_INVALID',
        `${origin}: key policy.kiosk.services.${i}.provider: no provider ${JSON.stringify(service.provider)} in policy.kiosk.providers`,
        { key: `policy.kiosk.services.${i}.provider` },
      );
  }
  for (const [id, provider] of Object.entries(kiosk.providers)) {
    const url = new URL(provider.url);
    const plainOk = url.protocol === 'http:' && (profile === 'demo' || isLoopbackHost(url.hostname));
    if (url.protocol !== 'https:' && !plainOk)
      throw new KioskError(
        'CONFIG_INVALID',
        `${origin}: key policy.kiosk.providers.${id}.url: must be https: (plain http: only to a loopback address)`,
        { key: `policy.kiosk.providers.${id}.url` },
      );
  }
}

/** The PEM bytes of `sync.caFile`, or CONFIG_INVALID naming the key when it is missing or not a certificate. */
export function readSyncCa(caFile: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(caFile);
  } catch (error) {
    throw new KioskError(
      'CONFIG_INVALID',
      `key sync.caFile: ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { key: 'sync.caFile', file: caFile },
    );
  }
  if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----'))
    throw new KioskError('CONFIG_INVALID', `key sync.caFile: ${caFile} holds no PEM certificate`, {
      key: 'sync.caFile',
      file: caFile,
    });
  return pem;
}
