// Pure pieces of the protocol: RFC 9421 request signatures, the frame reader, backoff with jitter.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../base/supervisor.js';
import { syncBackoff } from '../../main/core/sync/client.js';
import { frames } from '../../protocol/frames.js';
import {
  authorityOf,
  normalizeAuthority,
  parseSignedRequest,
  signRequest,
  softwareSigner,
} from '../../protocol/http-signature.js';
import { FrameType, frame, jsonFrame } from '../../protocol/sync.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const signer = softwareSigner('term-7', privateKey);

describe('RFC 9421 request signatures', () => {
  it('verifies what was signed and nothing else', async () => {
    const body = Buffer.from('{"records":[]}');
    const req = { method: 'POST', authority: 'hub.example:8630', target: '/v1/journal?x=1', body };
    const headers = await signRequest(signer, req);
    expect(headers['signature-input']).toMatch(
      /^sig1=\("@method" "@authority" "@path" "@query" "content-digest"\);created=\d+;nonce="[\w-]+";keyid="term-7";alg="ecdsa-p256-sha256"$/,
    );
    const ok = parseSignedRequest(req, headers);
    expect(typeof ok).toBe('object');
    if (typeof ok === 'string') throw new Error(ok);
    expect(ok.keyid).toBe('term-7');
    expect(ok.verify(publicKey)).toBe(true);
    expect(ok.verify(other)).toBe(false);

    const variants: Array<[string, Parameters<typeof parseSignedRequest>[0]]> = [
      ['method', { ...req, method: 'PUT' }],
      ['path', { ...req, target: '/v1/journal2?x=1' }],
      ['query', { ...req, target: '/v1/journal?x=2' }],
      ['authority', { ...req, authority: 'other-hub.example:8630' }],
      ['port', { ...req, authority: 'hub.example:8631' }],
    ];
    for (const [what, changed] of variants) {
      const p = parseSignedRequest(changed, headers);
      expect(typeof p === 'object' && p.verify(publicKey), what).toBe(false);
    }
    expect(parseSignedRequest({ ...req, body: Buffer.from('{"records":[1]}') }, headers)).toBe('digest');
    expect(parseSignedRequest(req, { ...headers, signature: undefined })).toBe('missing');
    expect(
      parseSignedRequest(req, {
        ...headers,
        'signature-input': headers['signature-input']!.replace('keyid="term-7"', 'keyid="a\\"b"'),
      }),
    ).toBe('malformed');
    // A body-less signature cannot be reused for a request with a body.
    const getHeaders = await signRequest(signer, {
      method: 'POST',
      authority: 'hub.example:8630',
      target: '/v1/journal?x=1',
    });
    expect(parseSignedRequest(req, getHeaders)).toBe('malformed');
  });

  it('normalizes the authority as RFC 9421 §2.2.3 says: lower case, no default port', () => {
    expect(authorityOf(new URL('https://HUB.Example:443/x'))).toBe('hub.example');
    expect(authorityOf(new URL('http://hub.example:80/'))).toBe('hub.example');
    expect(authorityOf(new URL('https://hub.example:8443/'))).toBe('hub.example:8443');
    expect(authorityOf(new URL('http://[::1]:8630/'))).toBe('[::1]:8630');
    expect(normalizeAuthority('Hub.Example:443', 'https')).toBe('hub.example');
  });
});

describe('frame reader', () => {
  async function* chunks(buf: Buffer, size: number) {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }
  const stream = Buffer.concat([
    jsonFrame(FrameType.hello, { a: 1 }),
    frame(FrameType.batch, Buffer.alloc(70_000, 7)),
    frame(FrameType.rowsEnd, Buffer.alloc(0)),
    jsonFrame(FrameType.checkpoint, { more: false }),
  ]);

  it('reassembles frames split at any byte', async () => {
    for (const size of [1, 3, 5, 4096, 1 << 20]) {
      const got = [];
      for await (const f of frames(chunks(stream, size))) got.push([f.type, f.payload.length]);
      expect(got).toEqual([
        [FrameType.hello, 7],
        [FrameType.batch, 70_000],
        [FrameType.rowsEnd, 0],
        [FrameType.checkpoint, 14],
      ]);
    }
  });

  it('refuses an oversized frame before buffering it, and a stream cut inside a frame', async () => {
    const huge = Buffer.alloc(5);
    huge[0] = FrameType.batch;
    huge.writeUInt32BE(0xffffffff, 1);
    await expect(async () => {
      for await (const _ of frames(chunks(huge, 5), 1024)) void _;
    }).rejects.toMatchObject({ code: 'SYNC_PROTOCOL' });
    await expect(async () => {
      for await (const _ of frames(chunks(stream.subarray(0, 1000), 100))) void _;
    }).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
  });
});

describe('backoff', () => {
  it('grows exponentially up to the interval with full jitter, and resets', () => {
    // A failed round's ceiling starts at 2 s and doubles, capped by the loop's interval.
    const high = new Backoff(syncBackoff(60_000, () => 1));
    expect([1, 2, 3, 4, 5, 6, 7].map(() => high.fail())).toEqual([
      2000, 4000, 8000, 16000, 32000, 60000, 60000,
    ]);
    // Full jitter: anywhere from at once up to the ceiling.
    const low = new Backoff(syncBackoff(60_000, () => 0));
    expect([1, 2, 3].map(() => low.fail())).toEqual([0, 0, 0]);
    const half = new Backoff(syncBackoff(60_000, () => 0.5));
    expect([1, 2, 3].map(() => half.fail())).toEqual([1000, 2000, 4000]);
    high.reset();
    expect(high.fail()).toBe(2000);
  });
});
