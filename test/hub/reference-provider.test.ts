// The reference provider decides on its own: a request it cannot tie to a registered terminal, to a
// trusted and unrevoked card, or to a card signature over exactly this request gets a typed refusal and no
// document; a retried request id gets the first answer (one document), and the same id with another body
// is refused. Requests are made with the terminal's client (main/core/services/provider-client.ts) and,
// for forgeries, by hand.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderClient } from '../../main/core/services/provider-client.js';
import { DEMO_RESIDENTS, demoRegister } from '../../main/demo/provider.js';
import { startReferenceProvider, type ReferenceProvider } from '../../hub/reference-provider/server.js';
import { softwareSigner } from '../../protocol/http-signature.js';
import {
  serviceRequestDigest,
  type ServiceRequestBody,
  type ServiceRequestFields,
} from '../../protocol/service-request.js';
import { JpkiClient } from '../../main/core/card/jpki-client.js';
import { InProcessTransport } from '../../main/core/card/in-process-transport.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { timingModel } from '../../sim/card/timing.js';
import { DEMO_PIN, demoCard } from '../../sim/pki/demo-pki.js';
import { demoCards, demoProfile } from '../support/demo-cards.js';

const terminalKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let provider: ReferenceProvider;
let client: ProviderClient;
let stranger: ProviderClient;

beforeAll(async () => {
  const set = await demoCards();
  provider = await startReferenceProvider({
    anchors: [readFileSync(set.caPemPath, 'utf8')],
    isRevoked: (cert) =>
      cert.serialNumber.toLowerCase().replace(/^0+/, '') === demoCard(set, 'revoked').serialHex,
    terminals: { 'kiosk-1': terminalKey.publicKey.export({ type: 'spki', format: 'pem' }) as string },
    register: demoRegister(set),
    renderDocument: async (c) => Buffer.from(`%PDF-1.4\n% ${c.rows.map((r) => r[1]).join(' ')}\n%%EOF\n`),
  });
  const settings = {
    id: 'city',
    url: provider.url,
    caFile: null,
    timeoutMs: 3000,
    retries: 0,
    healthEverySeconds: 60,
  };
  client = new ProviderClient(settings, () => softwareSigner('kiosk-1', terminalKey.privateKey));
  stranger = new ProviderClient(settings, () => softwareSigner('kiosk-1', otherKey.privateKey));
}, 60_000);

afterAll(async () => {
  await provider?.close();
});

/** A request signed by the demo card `name` (PIN verified) over `fields`, or over `signedFields` when given. */
async function proofBody(
  name: string,
  fields: ServiceRequestFields,
  signedFields = fields,
): Promise<ServiceRequestBody> {
  const card = new JpkiClient(
    new InProcessTransport(new SimulatedCard(await demoProfile(name), { timing: timingModel('instant') })),
  );
  await card.selectApplet();
  const der = await card.readAuthCertificate();
  await card.verifyAuthPin(DEMO_PIN);
  const signature = await card.signSha256(serviceRequestDigest(signedFields));
  return {
    request: fields,
    proof: {
      certificate: Buffer.from(der).toString('base64'),
      signature: Buffer.from(signature).toString('base64'),
    },
  };
}

function fields(extra: Partial<ServiceRequestFields> = {}): ServiceRequestFields {
  return {
    requestId: randomUUID(),
    serviceId: 'residence-certificate',
    sessionId: randomUUID(),
    terminalId: 'kiosk-1',
    at: new Date().toISOString(),
    pinVerified: true,
    ...extra,
  };
}

describe('reference provider', () => {
  it('issues the document of the card’s holder, and a retry of the same request id gets it again, issued once', async () => {
    const body = await proofBody('kiosk-member', fields());
    const before = provider.issued;
    const first = await client.request(body, () => true);
    const again = await client.request(body, () => true);
    expect(first.kind).toBe('document');
    expect(again).toEqual(first);
    expect(provider.issued).toBe(before + 1);
    expect((first as { pdf: Buffer }).pdf.toString('utf8')).toContain(DEMO_RESIDENTS['kiosk-member']!.name);
  });

  it('refuses a card signature over another request (proof_invalid)', async () => {
    const f = fields();
    const body = await proofBody('kiosk-member', f, { ...f, serviceId: 'tax-certificate' });
    expect(await client.request(body, () => true)).toMatchObject({
      kind: 'refused',
      refusal: 'proof_invalid',
    });
  });

  it('refuses another card’s proof presented with this card’s certificate (proof_invalid)', async () => {
    const f = fields();
    const mine = await proofBody('kiosk-member', f);
    const theirs = await proofBody('valid', f);
    const body = {
      request: f,
      proof: { certificate: mine.proof.certificate, signature: theirs.proof.signature },
    };
    expect(await client.request(body, () => true)).toMatchObject({
      kind: 'refused',
      refusal: 'proof_invalid',
    });
  });

  it('refuses a revoked card, an untrusted CA and a holder not in the register', async () => {
    expect(await client.request(await proofBody('revoked', fields()), () => true)).toMatchObject({
      refusal: 'card_revoked',
    });
    expect(await client.request(await proofBody('untrusted', fields()), () => true)).toMatchObject({
      refusal: 'card_untrusted',
    });
    expect(await client.request(await proofBody('unregistered', fields()), () => true)).toMatchObject({
      refusal: 'not_in_register',
    });
  });

  it('refuses a request signed with a key not registered for the terminal, and one naming another terminal', async () => {
    expect(await stranger.request(await proofBody('kiosk-member', fields()), () => true)).toMatchObject({
      refusal: 'terminal_signature',
    });
    expect(
      await client.request(await proofBody('kiosk-member', fields({ terminalId: 'kiosk-2' })), () => true),
    ).toMatchObject({
      refusal: 'terminal_signature',
    });
  });

  it('refuses a PIN service asked without the PIN, a stale request, and a reused request id with another body', async () => {
    expect(
      await client.request(await proofBody('kiosk-member', fields({ pinVerified: false })), () => true),
    ).toMatchObject({
      refusal: 'pin_required',
    });
    const old = new Date(Date.now() - 3600_000).toISOString();
    expect(
      await client.request(await proofBody('kiosk-member', fields({ at: old })), () => true),
    ).toMatchObject({
      refusal: 'request_stale',
    });
    const f = fields();
    await client.request(await proofBody('kiosk-member', f), () => true);
    const other = await proofBody('kiosk-member', { ...f, sessionId: randomUUID() });
    expect(await client.request(other, () => true)).toMatchObject({ refusal: 'idempotency_conflict' });
  });
});
