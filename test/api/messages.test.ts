import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../base/errors.js';
import { ReasonCodes } from '../../base/decision.js';
import { errorWords, reasonWords } from '../../main/api/messages.js';
import { annulReasonWords, siteKindWords, ui } from '../../renderer/src/i18n.js';
import { AnnulReasons } from '../../main/api/contract.js';
import { SiteKinds } from '../../base/site-kinds.js';

// Japanese text must contain kana or kanji; English text must not (a copy-paste of the wrong
// language into a slot is the mistake this catches).
const japanese = /[\u3040-\u30ff\u4e00-\u9fff]/;

function checkWords(label: string, words: { ja: string; en: string } | undefined) {
  expect(words, `${label} has no words`).toBeDefined();
  expect(words!.ja.trim().length, `${label} ja is empty`).toBeGreaterThan(0);
  expect(words!.en.trim().length, `${label} en is empty`).toBeGreaterThan(0);
  expect(words!.ja, `${label} ja is not Japanese`).toMatch(japanese);
  expect(words!.en, `${label} en contains Japanese`).not.toMatch(japanese);
}

describe('plain words for every code', () => {
  it('every error code has Japanese and English words', () => {
    for (const code of ErrorCodes) checkWords(code, errorWords[code]);
    expect(Object.keys(errorWords).sort()).toEqual([...ErrorCodes].sort());
  });

  it('every reason code has a Japanese and English headline and a next step', () => {
    for (const code of ReasonCodes) {
      checkWords(`${code}.headline`, reasonWords[code]?.headline);
      checkWords(`${code}.hint`, reasonWords[code]?.hint);
    }
    expect(Object.keys(reasonWords).sort()).toEqual([...ReasonCodes].sort());
  });

  it('every screen string has both languages (the language button names the other language)', () => {
    for (const [key, words] of Object.entries(ui)) {
      if (key === 'switchLanguage' || key === 'switchLanguageLabel') continue;
      expect(words.ja.trim(), key).not.toBe('');
      expect(words.en.trim(), key).not.toBe('');
      expect(words.en, key).not.toMatch(japanese);
    }
    for (const kind of SiteKinds) checkWords(kind, siteKindWords[kind]);
    for (const reason of AnnulReasons) checkWords(reason, annulReasonWords[reason]);
    expect(ui.switchLanguage.ja).toBe('English');
    expect(ui.switchLanguage.en).toMatch(japanese);
  });
});
