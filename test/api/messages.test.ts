import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../base/errors.js';
import { ReasonCodes } from '../../base/decision.js';
import { Languages, languageInfo } from '../../base/languages.js';
import { errorWords, reasonWords } from '../../main/api/messages.js';
import {
  annulReasonWords,
  errorText,
  missingWords,
  plainText,
  reasonHeadline,
  reasonHint,
  siteKindWords,
  staffOnlyKeys,
  t,
  translations,
  ui,
  valueWords,
  type Plural,
  type Text,
  type UiKey,
} from '../../renderer/src/i18n.js';
import { AnnulReasons } from '../../main/api/contract.js';
import { SiteKinds } from '../../base/site-kinds.js';

// Japanese text must contain kana or kanji; English text must not (a copy-paste of the wrong
// language into a slot is the mistake this catches).
const japanese = /[\u3040-\u30ff\u4e00-\u9fff]/;
const kanji = /[\u4e00-\u9fff\u3400-\u4dbf々]/;
const hangul = /[\uac00-\ud7af]/;
const kana = /[\u3040-\u30ff]/;

function checkWords(label: string, words: { ja: string; en: string } | undefined) {
  expect(words, `${label} has no words`).toBeDefined();
  expect(words!.ja.trim().length, `${label} ja is empty`).toBeGreaterThan(0);
  expect(words!.en.trim().length, `${label} en is empty`).toBeGreaterThan(0);
  expect(words!.ja, `${label} ja is not Japanese`).toMatch(japanese);
  expect(words!.en, `${label} en contains Japanese`).not.toMatch(japanese);
}

const forms = (text: Text): string[] => (typeof text === 'string' ? [text] : Object.values(text));

/** Every text of one language: screen words, reason headlines and hints, error words. */
function allTexts(language: (typeof Languages)[number]): [string, string][] {
  const out: [string, string][] = [];
  const staffOnly = new Set<string>(staffOnlyKeys);
  for (const key of Object.keys(ui) as UiKey[]) {
    if (language !== 'ja' && language !== 'en' && staffOnly.has(key)) continue;
    const text =
      language === 'ja' || language === 'en'
        ? ui[key][language]
        : (translations[language].ui as Partial<Record<UiKey, Text>>)[key];
    if (text !== undefined) for (const f of forms(text)) out.push([`ui.${key}`, f]);
  }
  for (const code of ReasonCodes) {
    out.push([`reasons.${code}.headline`, reasonHeadline(code, language)]);
    out.push([`reasons.${code}.hint`, reasonHint(code, language)]);
  }
  for (const code of ErrorCodes) out.push([`errors.${code}`, errorText(code, language)]);
  return out;
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

  it('every screen string has Japanese and English; staff values and names too', () => {
    for (const [key, words] of Object.entries(ui)) {
      for (const f of forms(words.ja)) expect(f.trim(), key).not.toBe('');
      for (const f of forms(words.en)) {
        expect(f.trim(), key).not.toBe('');
        expect(f, key).not.toMatch(japanese);
      }
    }
    for (const kind of SiteKinds) checkWords(kind, siteKindWords[kind]);
    for (const reason of AnnulReasons) checkWords(reason, annulReasonWords[reason]);
    for (const [kind, values] of Object.entries(valueWords))
      for (const [v, words] of Object.entries(values)) checkWords(`${kind}.${v}`, words);
  });
});

describe('every public word in every language', () => {
  it('nothing is missing or empty (the list names each missing word)', () => {
    expect(missingWords()).toEqual([]);
  });

  it('the list names exactly a word that goes missing, and only that one', () => {
    const vi = translations.vi.ui;
    const saved = vi.touchCard;
    const savedHint = translations.ko.reasons.revoked;
    try {
      delete vi.touchCard;
      translations.ko.reasons.revoked = { headline: '이 카드는 사용할 수 없습니다', hint: '  ' };
      expect(missingWords()).toEqual(['ko reasons.revoked.hint', 'vi ui.touchCard']);
    } finally {
      vi.touchCard = saved;
      translations.ko.reasons.revoked = savedHint;
    }
  });

  it('each language is written in its own script (no English or Japanese left in a slot)', () => {
    for (const [label, text] of allTexts('zh-Hans')) expect(text, `zh-Hans ${label}`).not.toMatch(hangul);
    for (const [label, text] of allTexts('ko')) {
      expect(text, `ko ${label}`).not.toMatch(kana);
      if (!/^(OK|ui\.ok)$/.test(label) && text !== 'OK') expect(text, `ko ${label}`).toMatch(hangul);
    }
    for (const language of ['vi', 'pt-BR', 'es'] as const) {
      for (const [label, text] of allTexts(language))
        expect(text, `${language} ${label}`).not.toMatch(japanese);
    }
    // A copy of the English text left in place is a missing translation (short shared words aside).
    for (const language of ['vi', 'pt-BR', 'es', 'zh-Hans', 'ko'] as const) {
      const english = new Map(allTexts('en'));
      const same = allTexts(language).filter(
        ([label, text]) => text.length > 12 && english.get(label) === text,
      );
      expect(same, language).toEqual([]);
    }
  });

  it('easy Japanese has a reading on every kanji', () => {
    for (const [label, text] of allTexts('ja-easy')) {
      const bare = text.replace(/\{[^{}|]+\|[^{}|]+\}/g, '');
      expect(bare, `ja-easy ${label}: kanji without a reading`).not.toMatch(kanji);
      if (text.length > 2) expect(plainText(text), label).toMatch(japanese);
      for (const m of text.matchAll(/\{([^{}|]+)\|([^{}|]+)\}/g))
        expect(m[2], `${label}: reading of ${m[1]}`).toMatch(/^[\u3040-\u309f]+$/);
    }
  });

  it('plurals: every form a language uses for whole numbers is there, and English says "1 try", "2 tries"', () => {
    for (const language of Languages) {
      const rules = new Intl.PluralRules(languageInfo[language].locale);
      const needed = new Set(Array.from({ length: 1001 }, (_, n) => rules.select(n)));
      for (const key of Object.keys(ui) as UiKey[]) {
        const text =
          language === 'ja' || language === 'en'
            ? ui[key][language]
            : (translations[language].ui as Partial<Record<UiKey, Text>>)[key];
        if (text === undefined || typeof text === 'string') continue;
        for (const category of needed)
          expect((text as Plural)[category], `${language} ${key} ${category}`).toBeDefined();
      }
    }
    expect(t('pinTriesLeft', 'en', { n: 1 })).toBe('1 try left before the PIN locks');
    expect(t('pinTriesLeft', 'en', { n: 2 })).toBe('2 tries left before the PIN locks');
    expect(t('personCount', 'en', { n: 1 })).toBe('1 person');
    expect(t('personCount', 'en', { n: 4 })).toBe('4 people');
    expect(t('personCount', 'ja', { n: 1 })).toBe('1人');
    expect(t('personCount', 'es', { n: 1 })).toBe('1 persona');
    expect(t('personCount', 'pt-BR', { n: 3 })).toBe('3 pessoas');
    expect(t('personCount', 'en', { n: 1200 })).toBe('1,200 people');
  });
});
