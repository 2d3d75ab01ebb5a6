// The reference provider's register: who a card belongs to, keyed by the SHA-256 of the card
// certificate's public key (what a municipality learns through J-LIS's link; never the individual
// number). The demo's register is built from the demo cards; tests build their own.
export interface RegisterPerson {
  /** Hex SHA-256 of the card certificate's SubjectPublicKeyInfo (DER). */
  spkiSha256: string;
  name: string;
  nameKana: string;
  birthDate: string;
  address: string;
  /** 世帯主 */
  householdHead: string;
  /** 本籍 (for certificates that show it). */
  domicile?: string;
}

export class Register {
  private readonly byKey = new Map<string, RegisterPerson>();

  constructor(people: readonly RegisterPerson[] = []) {
    for (const p of people) this.add(p);
  }

  add(person: RegisterPerson): void {
    this.byKey.set(person.spkiSha256.toLowerCase(), person);
  }

  find(spkiSha256: string): RegisterPerson | null {
    return this.byKey.get(spkiSha256.toLowerCase()) ?? null;
  }

  get size(): number {
    return this.byKey.size;
  }
}
