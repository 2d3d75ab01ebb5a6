// The languages the kiosk speaks. Browser-safe. The public screens speak all of them; the staff screens
// speak the first two. `ja-easy` is やさしい日本語 (easy Japanese, with furigana): not a BCP 47 tag of its
// own, so Intl and <html lang> see it as Japanese.

export const Languages = ['ja', 'en', 'zh-Hans', 'ko', 'vi', 'pt-BR', 'es', 'ja-easy'] as const;
export type Language = (typeof Languages)[number];

/** The languages of the staff screens (every staff word exists in these). */
export const StaffLanguages = ['ja', 'en'] as const;
export type StaffLanguage = (typeof StaffLanguages)[number];

export interface LanguageInfo {
  /** The language's name in itself, as the language choice shows it. */
  name: string;
  /** The locale handed to Intl (plurals, dates, relative times) and to <html lang>. */
  locale: string;
}

export const languageInfo: Record<Language, LanguageInfo> = {
  ja: { name: '日本語', locale: 'ja' },
  en: { name: 'English', locale: 'en' },
  'zh-Hans': { name: '简体中文', locale: 'zh-Hans' },
  ko: { name: '한국어', locale: 'ko' },
  vi: { name: 'Tiếng Việt', locale: 'vi' },
  'pt-BR': { name: 'Português', locale: 'pt-BR' },
  es: { name: 'Español', locale: 'es' },
  'ja-easy': { name: 'やさしい にほんご', locale: 'ja' },
};

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (Languages as readonly string[]).includes(value);
}

/** The staff screens' language for a screen language: English stays English, everything else is Japanese. */
export function staffLanguageFor(language: Language): StaffLanguage {
  return language === 'en' ? 'en' : 'ja';
}
