// Fetching one content-addressed piece (protocol/content.ts) named by a verified checkpoint: a plain GET
// that any HTTP cache on the way may answer, read up to the stated length while hashing, and refused
// (SYNC_CONTENT_INVALID, nothing used) unless the bytes are exactly those the checkpoint names. Small
// pieces stay in memory; a snapshot goes to a staging file under the data folder.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { KioskError } from '../../../base/errors.js';
import type { ContentRef } from '../../../protocol/content.js';
import type { HubLink } from './link.js';

/** Pieces up to this size are held in memory; bigger ones (snapshots) are staged in a file. */
const IN_MEMORY_BYTES = 4 * 1024 * 1024;

export interface FetchedContent {
  /** The piece's decoded bytes (its gzip members inflated): the frames it carries. */
  frames(): Readable;
  /** Removes the staging file, if any. */
  dispose(): void;
}

export async function fetchContent(
  link: HubLink,
  ref: ContentRef,
  stagingDir: string,
): Promise<FetchedContent> {
  const url = new URL(link.base.pathname.replace(/\/$/, '') + ref.path, link.base);
  const lib = url.protocol === 'https:' ? https : http;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = lib.get(
      url,
      {
        agent: link.agent,
        headers: { 'accept-encoding': 'identity' },
        ...(link.ca ? { ca: link.ca } : {}),
        ...(link.signal ? { signal: link.signal } : {}),
      },
      resolve,
    );
    req.setTimeout(link.idleTimeoutMs, () =>
      req.destroy(new KioskError('SYNC_UNREACHABLE', 'content source did not answer')),
    );
    req.on('error', (error) =>
      reject(
        error instanceof KioskError
          ? error
          : new KioskError('SYNC_UNREACHABLE', `content unreachable: ${error.message}`, undefined, {
              cause: error,
            }),
      ),
    );
  });
  res.setTimeout(link.idleTimeoutMs, () =>
    res.destroy(new KioskError('SYNC_UNREACHABLE', 'content source stalled')),
  );
  if (res.statusCode !== 200) {
    res.resume();
    throw new KioskError('SYNC_UNREACHABLE', `content ${ref.sha256.slice(0, 12)}…: HTTP ${res.statusCode}`);
  }
  const hash = createHash('sha256');
  let got = 0;
  const tooLong = () =>
    new KioskError(
      'SYNC_CONTENT_INVALID',
      `content ${ref.sha256.slice(0, 12)}… is longer than the ${ref.bytes} bytes the checkpoint names`,
    );
  const file =
    ref.bytes > IN_MEMORY_BYTES ? join(stagingDir, `content-${randomBytes(6).toString('hex')}`) : null;
  const parts: Buffer[] = [];
  try {
    if (file) mkdirSync(stagingDir, { recursive: true });
    const out = file ? createWriteStream(file, { mode: 0o600 }) : null;
    try {
      for await (const chunk of res) {
        const b = chunk as Buffer;
        got += b.length;
        // Counted before it is kept: nothing past the stated length reaches memory or disk.
        if (got > ref.bytes) throw tooLong();
        hash.update(b);
        if (out) {
          if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
        } else parts.push(b);
      }
    } finally {
      if (out) await new Promise<void>((r) => out.end(r));
    }
    if (!res.complete) throw new KioskError('SYNC_UNREACHABLE', 'content transfer cut');
    const sha = hash.digest('hex');
    if (got !== ref.bytes || sha !== ref.sha256)
      throw new KioskError(
        'SYNC_CONTENT_INVALID',
        `content at ${ref.path} is not what the checkpoint names (${got} bytes, SHA-256 ${sha.slice(0, 12)}…)`,
      );
  } catch (error) {
    res.destroy();
    if (file) rmSync(file, { force: true });
    throw error;
  }
  const whole = file ? null : Buffer.concat(parts);
  return {
    frames: () => {
      const source: Readable = file ? createReadStream(file) : Readable.from([whole!]);
      const gunzip = createGunzip();
      source.on('error', (e: Error) => gunzip.destroy(e));
      return source.pipe(gunzip);
    },
    dispose: () => {
      if (file) rmSync(file, { force: true });
    },
  };
}
