// What enrolment at a hub leaves on the terminal (`jpki-kiosk enrol`, staff mode "enrol"): the hub's
// answer, kept in <data.dir>/enrolment.json, and the hub's root of trust in <data.dir>/hub-root.json.
// The loader lays it over the site's file (load.ts): the hub's binding of this terminal (id, site,
// gate, zone, kind) and its address replace whatever the file says, since that is what the hub will
// hold the terminal to.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { SiteKinds } from '../base/site-kinds.js';

export const ENROLMENT_FILE = 'enrolment.json';
export const ENROLMENT_ROOT_FILE = 'hub-root.json';

export const EnrolmentRecord = z
  .object({
    hubUrl: z.string().url(),
    hubId: z.string(),
    terminalId: z.string().min(1),
    siteId: z.string().min(1),
    gateId: z.string().min(1),
    zone: z.string().min(1),
    kind: z.enum(SiteKinds),
    enrolledAt: z.string(),
  })
  .strict();
export type EnrolmentRecord = z.infer<typeof EnrolmentRecord>;

/** Writes the record (and the root, when the hub sent one) atomically: a half-written file never loads. */
export function saveEnrolment(dataDir: string, record: EnrolmentRecord, root: Buffer | null): void {
  mkdirSync(dataDir, { recursive: true });
  const put = (name: string, bytes: string | Buffer) => {
    const tmp = join(dataDir, `.${name}.tmp`);
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, join(dataDir, name));
  };
  if (root) put(ENROLMENT_ROOT_FILE, root);
  put(ENROLMENT_FILE, JSON.stringify(EnrolmentRecord.parse(record), null, 2) + '\n');
}

export function readEnrolment(dataDir: string): EnrolmentRecord | null {
  const file = join(dataDir, ENROLMENT_FILE);
  if (!existsSync(file)) return null;
  let parsed;
  try {
    parsed = EnrolmentRecord.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    throw new KioskError('CONFIG_INVALID', `${file}: not valid JSON; enrol the terminal again`);
  }
  if (!parsed.success)
    throw new KioskError(
      'CONFIG_INVALID',
      `${file}: ${parsed.error.issues[0]?.message}; enrol the terminal again`,
    );
  return parsed.data;
}

/** The configuration layer the record implies (merged over the site's file by the loader). */
export function enrolmentLayer(
  dataDir: string,
  record: EnrolmentRecord,
  rootPathConfigured: boolean,
): Record<string, unknown> {
  const rootFile = join(dataDir, ENROLMENT_ROOT_FILE);
  return {
    site: {
      terminalId: record.terminalId,
      siteId: record.siteId,
      gateId: record.gateId,
      zone: record.zone,
      kind: record.kind,
    },
    sync: {
      enabled: true,
      hubUrl: record.hubUrl,
      ...(!rootPathConfigured && existsSync(rootFile) ? { rootPath: rootFile } : {}),
    },
  };
}
