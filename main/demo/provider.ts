// The demo's certificate service: the reference provider (hub/reference-provider/) with a register of
// fictitious residents for the demo cards, trusting the demo CA and knowing the demo's revoked card.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KioskConfig } from '../../config/load.js';
import type { DemoCardSet } from '../../sim/pki/demo-pki.js';
import {
  startReferenceProvider,
  type ReferenceProvider,
  type ReferenceProviderOptions,
} from '../../hub/reference-provider/server.js';
import type { RegisterPerson } from '../../hub/reference-provider/register.js';

/** Fictitious residents of 見本市 (demo city), by demo card name. */
export const DEMO_RESIDENTS: Record<string, Omit<RegisterPerson, 'spkiSha256'>> = {
  'kiosk-member': {
    name: '見本 太郎',
    nameKana: 'ミホン タロウ',
    birthDate: '1985年4月1日',
    address: '見本県見本市中央一丁目2番3号',
    householdHead: '見本 太郎',
  },
  valid: {
    name: '試験 花子',
    nameKana: 'シケン ハナコ',
    birthDate: '1990年10月10日',
    address: '見本県見本市港町四丁目5番6号',
    householdHead: '試験 一郎',
  },
  'shelter-resident': {
    name: '山田 花子',
    nameKana: 'ヤマダ ハナコ',
    birthDate: '1948年2月29日',
    address: '見本県見本市山手七丁目8番9号',
    householdHead: '山田 花子',
  },
  revoked: {
    name: '失効 次郎',
    nameKana: 'シッコウ ジロウ',
    birthDate: '1979年7月7日',
    address: '見本県見本市北町1番地',
    householdHead: '失効 次郎',
  },
};

export function spkiSha256OfPem(pem: string | Buffer): string {
  const cert = new X509Certificate(pem);
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The demo register: the residents above, keyed by their demo card's certificate key. */
export function demoRegister(cards: DemoCardSet, residents = DEMO_RESIDENTS): RegisterPerson[] {
  return cards.cards
    .filter((c) => residents[c.name])
    .map((c) => ({ spkiSha256: spkiSha256OfPem(readFileSync(c.certPath)), ...residents[c.name]! }));
}

export function startDemoProvider(
  config: KioskConfig,
  cards: DemoCardSet,
  extra: Partial<ReferenceProviderOptions> = {},
): Promise<ReferenceProvider> {
  const revokedSerials = new Set(cards.cards.filter((c) => c.revoked).map((c) => c.serialHex.toLowerCase()));
  return startReferenceProvider({
    anchors: config.trust.anchors.map((f) => readFileSync(f, 'utf8')),
    isRevoked: (cert) => revokedSerials.has(cert.serialNumber.toLowerCase().replace(/^0+/, '')),
    register: demoRegister(cards),
    ...extra,
  });
}
