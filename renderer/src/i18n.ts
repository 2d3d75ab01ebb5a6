// Words of the screens themselves (codes' words are in main/api/messages.ts). Japanese and English live
// here beside each key; the other public languages each have one file in ./locales/ that may lack a key
// (a new key compiles at once) — `missingWords()` lists exactly which words are missing or empty, and a
// test fails on that list. Staff-only keys are Japanese and English only.
//
// Text is a string, or plural forms chosen by Intl.PluralRules on `{n}`. Easy Japanese marks the reading
// of kanji as {漢字|かんじ}; <Words> (words.tsx) draws it as <ruby>, `plainText` drops the reading.
import type { Words } from '../../main/api/messages.js';
import { errorWords, reasonWords } from '../../main/api/messages.js';
import { ErrorCodes, type ErrorCode } from '../../base/errors.js';
import {
  ReasonCodes,
  type InsuranceDetails,
  type Outcome,
  type ReasonCode,
  type SiteKind,
} from '../../base/decision.js';
import type { ProfileName } from '../../base/site-kinds.js';
import type {
  AnnulReasons,
  GateStates,
  HsmStates,
  ReaderStates,
  RosterEntry,
  SignalStates,
  SyncStates,
  TerminalStatus,
} from '../../main/api/contract.js';
import { Languages, languageInfo, type Language, type StaffLanguage } from '../../base/languages.js';
import { relativeTimeIso } from '../../base/relative-time.js';
import { zhHans } from './locales/zh-Hans.js';
import { ko } from './locales/ko.js';
import { vi } from './locales/vi.js';
import { ptBR } from './locales/pt-BR.js';
import { es } from './locales/es.js';
import { jaEasy } from './locales/ja-easy.js';

/** Plural forms by Intl.PluralRules category; `other` is always there. */
export type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Text = string | Plural;
type UiWords = { ja: Text; en: Text };

export const ui = {
  touchCard: { ja: 'マイナンバーカードをタッチしてください', en: 'Please touch your My Number Card' },
  touchHint: {
    ja: 'カードを読み取り部に置き、音が鳴るまで離さないでください',
    en: 'Place the card on the reader and hold it until you hear the sound',
  },
  reading: { ja: '読み取り中です。カードを離さないでください', en: 'Reading. Please keep the card in place' },
  connecting: { ja: '準備中です', en: 'Starting up' },
  connectingHint: { ja: 'しばらくお待ちください', en: 'Please wait a moment' },
  outOfService: { ja: 'ただいま使用できません', en: 'Out of service' },
  outOfServiceHint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  errorCode: { ja: 'エラーコード', en: 'Error code' },
  degraded: {
    ja: '簡易確認中（データ更新待ち）',
    en: 'DEGRADED: check data is out of date',
  },
  ok: { ja: 'OK', en: 'OK' },
  ng: { ja: 'NG', en: 'NO ENTRY' },
  seat: { ja: '座席', en: 'Seat' },
  zone: { ja: 'エリア', en: 'Zone' },
  admittedCount: { ja: '入場', en: 'Admitted' },
  refusedCount: { ja: '不可', en: 'Refused' },
  insideCount: { ja: '場内', en: 'Inside' },
  gate: { ja: 'ゲート', en: 'Gate' },
  checkIn: { ja: 'チェックイン', en: 'Check-in' },
  checkOut: { ja: 'チェックアウト', en: 'Check-out' },
  occupancy: { ja: '現在の避難者数', en: 'People in the shelter now' },
  household: { ja: '世帯人数', en: 'Household' },
  personCount: { ja: '{n}人', en: { one: '{n} person', other: '{n} people' } },
  receptionWelcome: { ja: '受付', en: 'Reception' },
  receptionDone: {
    ja: '保険資格を確認しました。受付でお待ちください',
    en: 'Insurance confirmed. Please wait at the desk',
  },
  kioskTitle: { ja: 'マルチコピー機 各種証明書', en: 'Certificate service' },
  kioskMenu: { ja: 'サービスを選んでください', en: 'Choose a service' },
  kioskEnd: { ja: '終了する', en: 'End' },
  kioskNoServices: {
    ja: 'この端末で使えるサービスはありません',
    en: 'No services are offered at this terminal',
  },
  kioskUnavailableOffline: {
    ja: 'ただいま通信できないため使えません',
    en: 'Not available: the service cannot be reached right now',
  },
  kioskUnavailablePrinter: {
    ja: 'プリンターが使えないため使えません',
    en: 'Not available: the printer is not working',
  },
  kioskFee: { ja: '手数料 {n}円', en: 'Fee ¥{n}' },
  kioskFree: { ja: '無料', en: 'Free' },
  kioskWorkingCard: {
    ja: 'カードを確認しています。カードを離さないでください',
    en: 'Checking your card. Please keep it in place',
  },
  kioskWorkingProvider: { ja: '発行元に請求しています', en: 'Requesting the document' },
  kioskWorkingPrinting: { ja: '印刷しています', en: 'Printing' },
  kioskTakeDocument: { ja: '書類とカードをお取りください', en: 'Please take your document and your card' },
  kioskPayAtRegister: {
    ja: '手数料 {n}円はレジでお支払いください',
    en: 'Please pay the fee of ¥{n} at the register',
  },
  kioskFailed: { ja: '発行できませんでした', en: 'The document could not be issued' },
  kioskPrintFailed: { ja: '印刷できませんでした', en: 'The document could not be printed' },
  kioskStaffNote: {
    ja: '係員にお声がけください。印刷されていないため手数料はかかりません',
    en: 'Please ask a staff member. Nothing was printed, so there is no fee',
  },
  kioskPaperOut: { ja: 'プリンターの用紙が切れています', en: 'The printer is out of paper' },
  kioskRefusedHint: {
    ja: 'お住まいの市区町村の窓口でご相談ください',
    en: 'Please contact your city office',
  },
  kioskTryLater: { ja: 'しばらくしてからもう一度お試しください', en: 'Please try again later' },
  kioskBackToMenu: { ja: 'メニューに戻る', en: 'Back to the menu' },
  kioskTimeLeft: { ja: '残り時間', en: 'Time left' },
  secondsLeft: { ja: '{n}秒', en: { one: '{n} second', other: '{n} seconds' } },
  kioskDontLeave: {
    ja: '終了するまでカードと書類をお持ちください',
    en: 'Keep your card with you until you finish',
  },
  pinTitle: { ja: '暗証番号（4桁）を押してください', en: 'Enter your 4-digit PIN' },
  pinTriesLeft: {
    ja: 'あと{n}回間違えるとロックされます',
    en: { one: '{n} try left before the PIN locks', other: '{n} tries left before the PIN locks' },
  },
  pinRetry: { ja: '暗証番号が違いました', en: 'That PIN was not correct' },
  pinBlocked: { ja: '暗証番号がロックされています', en: 'The PIN is locked' },
  pinCancel: { ja: 'やめる', en: 'Cancel' },
  pinDelete: { ja: '消す', en: 'Delete' },
  pinOk: { ja: '決定', en: 'OK' },
  languageChoice: { ja: '言語', en: 'Language' },
  staff: { ja: '係員', en: 'Staff' },
  staffLocked: {
    ja: '係員の暗証番号を入力してください',
    en: 'Enter the staff PIN',
  },
  staffLock: { ja: 'ロックする', en: 'Lock' },
  staffClose: { ja: '閉じる', en: 'Close' },
  staffStatus: { ja: '端末の状態', en: 'Terminal status' },
  staffRecent: { ja: '最近の判定', en: 'Recent decisions' },
  staffAnnul: { ja: '取消', en: 'Annul' },
  staffReverse: { ja: '取消を戻す', en: 'Undo annul' },
  staffAnnulled: { ja: '取消済み', en: 'Annulled' },
  staffSync: { ja: '今すぐ同期', en: 'Sync now' },
  staffCompanion: { ja: '同行者の座席登録', en: 'Companion seat' },
  staffCompanionHint: {
    ja: '同行者のカードをかざし、譲渡コードを入力してください',
    en: 'Have the companion place their card, then enter the transfer code',
  },
  staffCompanionCode: { ja: '譲渡コード', en: 'Transfer code' },
  staffCompanionBind: { ja: 'このカードに登録', en: 'Bind to this card' },
  staffCompanionDone: { ja: '座席 {seat} をこのカードに登録しました', en: 'Seat {seat} is now on this card' },
  staffSite: { ja: '用途とゲート', en: 'Site and gate' },
  staffVolume: { ja: '音量', en: 'Volume' },
  staffRoster: { ja: '避難者名簿', en: 'Shelter roster' },
  staffRegister: { ja: '未登録者を登録', en: 'Register this person' },
  staffName: { ja: '氏名', en: 'Name' },
  staffHouseholdId: { ja: '世帯番号', en: 'Household ID' },
  staffReception: { ja: '受付システムへ送信', en: 'Send to reception system' },
  staffSent: { ja: '送信しました', en: 'Sent' },
  staffDetails: { ja: '資格情報', en: 'Qualification details' },
  staffTicketLookup: {
    ja: 'チケット番号で確認（カード忘れ）',
    en: 'Look up by ticket number (card forgotten)',
  },
  staffTicketNumber: { ja: 'チケット番号', en: 'Ticket number' },
  staffTicketCheck: { ja: '確認して判定', en: 'Check and decide' },
  staffAuthPath: { ja: '本人確認', en: 'Card check' },
  authPathPinless: { ja: '暗証番号なし（端末認証）', en: 'PIN-less (terminal authentication)' },
  authPathPin: { ja: '暗証番号', en: 'PIN' },
  authPathStaffVisual: { ja: '係員の目視確認', en: 'Staff visual check' },
  staffNoDecision: { ja: 'まだ判定はありません', en: 'No decision yet' },
  reader: { ja: 'カードリーダー', en: 'Card reader' },
  hsm: { ja: 'セキュリティモジュール', en: 'Security module (HSM)' },
  sync: { ja: '同期', en: 'Sync' },
  syncAlarm: { ja: '同期の警報', en: 'Sync alarm' },
  dataAge: { ja: '失効データの更新', en: 'Revocation data updated' },
  queue: { ja: '未送信の記録', en: 'Unsent journal records' },
  gateDevice: { ja: 'ゲート装置', en: 'Gate device' },
  signal: { ja: '表示灯', en: 'Signal light' },
  never: { ja: 'なし', en: 'never' },
  stale: { ja: '古い', en: 'STALE' },
  maxAge: { ja: '上限 {n}時間', en: { one: 'max {n} hour', other: 'max {n} hours' } },
  crlNextUpdate: { ja: 'CRL次回更新 {at}（猶予 {n}時間）', en: 'CRL next update {at} (+ {n} h grace)' },
  unregistered: { ja: '未登録', en: 'unregistered' },
  credentialTicket: { ja: 'QRチケット', en: 'QR ticket' },
  demoWallet: { ja: 'デモカード', en: 'Demo cards' },
  demoInsert: { ja: 'タッチ', en: 'Touch' },
  demoRemove: { ja: 'カードを離す', en: 'Remove card' },
  done: { ja: '完了', en: 'Done' },
  failed: { ja: '失敗', en: 'Failed' },
  insurer: { ja: '保険者番号', en: 'Insurer number' },
  symbolNumber: { ja: '記号・番号・枝番', en: 'Symbol / number / branch' },
  copay: { ja: '負担割合', en: 'Co-pay' },
  validity: { ja: '有効期間', en: 'Valid' },
  insuranceStatus: { ja: '資格状態', en: 'Status' },
  staffEnrol: { ja: '本部に登録', en: 'Enrol at the hub' },
  staffEnrolHub: { ja: '本部のURL', en: 'Hub URL' },
  staffEnrolHubHint: {
    ja: 'https:// で始まるURL（QRコードに含まれる場合や設定済みの場合は空欄可）',
    en: 'An https:// address (leave empty when the QR code or the configuration names the hub)',
  },
  staffEnrolCode: { ja: '登録コード', en: 'Enrolment code' },
  staffEnrolSubmit: { ja: '登録する', en: 'Enrol' },
  staffEnrolled: {
    ja: '{site} の {gate}（端末 {id}）として登録しました。本部と同期しています',
    en: 'Enrolled as {id} at {site} / {gate}. Syncing with the hub now',
  },
  staffEnrolledRestart: {
    ja: '{site} の {gate}（端末 {id}）として登録しました。同期を始めるには端末を再起動してください',
    en: 'Enrolled as {id} at {site} / {gate}. Restart the terminal to start syncing with the hub',
  },
  staffRosterExport: { ja: '名簿を書き出す（CSV）', en: 'Export roster (CSV)' },
  staffRosterExported: {
    ja: '{n}人分を {file} に書き出しました',
    en: { one: '{n} row written to {file}', other: '{n} rows written to {file}' },
  },
} satisfies Record<string, UiWords>;

export type UiKey = keyof typeof ui;

/** Keys that only staff screens and the demo drawer show: Japanese and English are enough. */
export const staffOnlyKeys = [
  'staffLocked',
  'staffAuthPath',
  'authPathPinless',
  'authPathPin',
  'authPathStaffVisual',
  'staffLock',
  'staffClose',
  'staffStatus',
  'staffRecent',
  'staffAnnul',
  'staffReverse',
  'staffAnnulled',
  'staffSync',
  'staffCompanion',
  'staffCompanionHint',
  'staffCompanionCode',
  'staffCompanionBind',
  'staffCompanionDone',
  'staffSite',
  'staffVolume',
  'staffRoster',
  'staffRegister',
  'staffName',
  'staffHouseholdId',
  'staffReception',
  'staffSent',
  'staffDetails',
  'staffTicketLookup',
  'staffTicketNumber',
  'staffTicketCheck',
  'staffNoDecision',
  'reader',
  'hsm',
  'sync',
  'syncAlarm',
  'dataAge',
  'queue',
  'gateDevice',
  'signal',
  'never',
  'stale',
  'maxAge',
  'crlNextUpdate',
  'unregistered',
  'credentialTicket',
  'demoWallet',
  'demoInsert',
  'demoRemove',
  'done',
  'failed',
  'insurer',
  'symbolNumber',
  'copay',
  'validity',
  'insuranceStatus',
  'staffEnrol',
  'staffEnrolHub',
  'staffEnrolHubHint',
  'staffEnrolCode',
  'staffEnrolSubmit',
  'staffEnrolled',
  'staffEnrolledRestart',
  'staffRosterExport',
  'staffRosterExported',
] as const satisfies readonly UiKey[];
export type PublicUiKey = Exclude<UiKey, (typeof staffOnlyKeys)[number]>;

/** One public language beyond Japanese and English: any key may be missing (the test names it). */
export interface Translation {
  ui: Partial<Record<PublicUiKey, Text>>;
  reasons: Partial<Record<ReasonCode, { headline: string; hint: string }>>;
  errors: Partial<Record<ErrorCode, string>>;
}

type OtherLanguage = Exclude<Language, 'ja' | 'en'>;
export const translations: Record<OtherLanguage, Translation> = {
  'zh-Hans': zhHans,
  ko,
  vi,
  'pt-BR': ptBR,
  es,
  'ja-easy': jaEasy,
};

/** What a missing word falls back to on screen (the test still fails on it): Japanese for easy Japanese. */
function fallback(language: OtherLanguage): 'ja' | 'en' {
  return language === 'ja-easy' ? 'ja' : 'en';
}

const present = (text: Text | undefined): text is Text =>
  text !== undefined && (typeof text === 'string' ? text.trim() !== '' : text.other.trim() !== '');

const pluralRules = new Map<string, Intl.PluralRules>();
function pluralOf(text: Text, language: Language, n: number): string {
  if (typeof text === 'string') return text;
  const locale = languageInfo[language].locale;
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return text[rules.select(n)] ?? text.other;
}

function uiText(key: UiKey, language: Language): Text {
  const words: UiWords = ui[key];
  if (language === 'ja' || language === 'en') return words[language];
  const own = (translations[language].ui as Partial<Record<UiKey, Text>>)[key];
  return present(own) ? own : words[fallback(language)];
}

export function t(key: UiKey, language: Language, vars: Record<string, string | number> = {}): string {
  const n = typeof vars.n === 'number' ? vars.n : Number(vars.n ?? 0);
  let text = pluralOf(uiText(key, language), language, n);
  for (const [name, value] of Object.entries(vars)) {
    const shown = typeof value === 'number' ? formatNumber(value, language) : value;
    text = text.replaceAll(`{${name}}`, shown);
  }
  return text;
}

export function reasonHeadline(code: ReasonCode, language: Language): string {
  if (language === 'ja' || language === 'en') return reasonWords[code].headline[language];
  const own = translations[language].reasons[code]?.headline;
  return present(own) ? own : reasonWords[code].headline[fallback(language)];
}
export function reasonHint(code: ReasonCode, language: Language): string {
  if (language === 'ja' || language === 'en') return reasonWords[code].hint[language];
  const own = translations[language].reasons[code]?.hint;
  return present(own) ? own : reasonWords[code].hint[fallback(language)];
}
export function errorText(code: ErrorCode, language: Language): string {
  if (language === 'ja' || language === 'en') return errorWords[code][language];
  const own = translations[language].errors[code];
  return present(own) ? own : errorWords[code][fallback(language)];
}

/** Staff-facing names of the site kinds and annulment reasons. */
export const siteKindWords: Record<SiteKind, Words> = {
  'stadium-gate': { ja: '入場ゲート', en: 'Stadium gate' },
  'hospital-reception': { ja: '病院受付', en: 'Hospital reception' },
  shelter: { ja: '避難所', en: 'Shelter' },
  'convenience-kiosk': { ja: 'コンビニ端末', en: 'Convenience kiosk' },
};

export const annulReasonWords: Record<(typeof AnnulReasons)[number], Words> = {
  turnstile_not_turned: { ja: 'ゲートを通らなかった', en: 'Did not pass the gate' },
  staff_error: { ja: '係員の操作誤り', en: 'Staff error' },
  duplicate: { ja: '重複', en: 'Duplicate' },
  patron_left: { ja: '本人が立ち去った', en: 'Person left' },
  other: { ja: 'その他', en: 'Other' },
};

/** Staff words for every value the staff screens show (the Japanese table shows no raw English). */
export const valueWords = {
  reader: {
    ready: { ja: '準備完了', en: 'ready' },
    card_present: { ja: 'カードあり', en: 'card present' },
    busy: { ja: '読み取り中', en: 'busy' },
    no_reader: { ja: 'リーダーなし', en: 'no reader' },
    unavailable: { ja: '使用不可', en: 'unavailable' },
  },
  hsm: {
    ready: { ja: '準備完了', en: 'ready' },
    unavailable: { ja: '使用不可', en: 'unavailable' },
    not_used: { ja: '使用しない', en: 'not used' },
  },
  sync: {
    disabled: { ja: '無効', en: 'disabled' },
    idle: { ja: '待機中', en: 'idle' },
    running: { ja: '同期中', en: 'running' },
    failed: { ja: '失敗', en: 'failed' },
  },
  gate: {
    none: { ja: 'なし', en: 'none' },
    closed: { ja: '閉', en: 'closed' },
    open: { ja: '開', en: 'open' },
    unavailable: { ja: '使用不可', en: 'unavailable' },
  },
  signal: {
    none: { ja: 'なし', en: 'none' },
    off: { ja: '消灯', en: 'off' },
    green: { ja: '緑', en: 'green' },
    red: { ja: '赤', en: 'red' },
    amber: { ja: '黄', en: 'amber' },
    unavailable: { ja: '使用不可', en: 'unavailable' },
  },
  stalePolicy: {
    deny: { ja: '古い場合は拒否', en: 'deny when stale' },
    degraded: { ja: '古い場合は簡易確認', en: 'degraded when stale' },
    staff: { ja: '古い場合は係員確認', en: 'staff check when stale' },
  },
  staleReason: {
    sync_age: { ja: '同期が古い', en: 'sync too old' },
    crl_expired: { ja: '失効リストの期限切れ', en: 'CRL expired' },
  },
  direction: {
    entry: { ja: '入場', en: 'entry' },
    exit: { ja: '退場', en: 'exit' },
    both: { ja: '入退場', en: 'entry and exit' },
  },
  authMode: {
    terminal: { ja: '端末認証（暗証番号なし）', en: 'terminal authentication (no PIN)' },
    pin: { ja: '暗証番号', en: 'PIN' },
    auto: {
      ja: '自動（端末認証、できなければ暗証番号）',
      en: 'automatic (terminal authentication, else PIN)',
    },
  },
  profile: {
    demo: { ja: 'デモ', en: 'demo' },
    'stadium-gate': { ja: '入場ゲート', en: 'stadium gate' },
    'hospital-reception': { ja: '病院受付', en: 'hospital reception' },
    shelter: { ja: '避難所', en: 'shelter' },
    'convenience-kiosk': { ja: 'コンビニ端末', en: 'convenience kiosk' },
  },
  outcome: {
    admitted: { ja: '許可', en: 'admitted' },
    refused: { ja: '不可', en: 'refused' },
    staff: { ja: '係員確認', en: 'staff check' },
    error: { ja: 'エラー', en: 'error' },
  },
  insurance: {
    valid: { ja: '有効', en: 'valid' },
    expired: { ja: '期限切れ', en: 'expired' },
    not_found: { ja: '該当なし', en: 'not found' },
    superseded: { ja: '新しい資格あり', en: 'superseded' },
  },
  roster: {
    inside: { ja: '在所', en: 'inside' },
    out: { ja: '外出', en: 'out' },
  },
} satisfies {
  reader: Record<(typeof ReaderStates)[number], Words>;
  hsm: Record<(typeof HsmStates)[number], Words>;
  sync: Record<(typeof SyncStates)[number], Words>;
  gate: Record<(typeof GateStates)[number], Words>;
  signal: Record<(typeof SignalStates)[number], Words>;
  stalePolicy: Record<TerminalStatus['data']['stalePolicy'], Words>;
  staleReason: Record<TerminalStatus['data']['staleReasons'][number], Words>;
  direction: Record<TerminalStatus['direction'], Words>;
  authMode: Record<TerminalStatus['authMode'], Words>;
  profile: Record<ProfileName, Words>;
  outcome: Record<Outcome, Words>;
  insurance: Record<InsuranceDetails['status'], Words>;
  roster: Record<RosterEntry['state'], Words>;
};

/** A staff value in words: `value('reader', status.reader.state, 'ja')`. */
export function value<K extends keyof typeof valueWords>(
  kind: K,
  v: keyof (typeof valueWords)[K],
  language: StaffLanguage,
): string {
  return ((valueWords[kind] as Record<string, Words>)[v as string] ?? { ja: String(v), en: String(v) })[
    language
  ];
}

// ---- numbers, times and relative times through Intl -------------------------------------------------

export function formatNumber(n: number, language: Language): string {
  return new Intl.NumberFormat(languageInfo[language].locale).format(n);
}

/** Clock time of a decision ("14:05:09"), in the language's own form. */
export function formatTime(iso: string, language: Language): string {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return iso;
  return new Intl.DateTimeFormat(languageInfo[language].locale, { timeStyle: 'medium' }).format(at);
}

/** Date and time ("2026/12/04 14:05"), in the language's own form. */
export function formatDateTime(iso: string, language: Language): string {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return iso;
  return new Intl.DateTimeFormat(languageInfo[language].locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(at);
}

/** "3 分前" / "3 minutes ago" / "never"; a time ahead of our clock reads as "now", never negative. */
export function ago(iso: string | null, nowMs: number, language: StaffLanguage): string {
  return relativeTimeIso(iso, nowMs, languageInfo[language].locale) ?? t('never', language);
}

// ---- easy Japanese: readings on kanji ---------------------------------------------------------------

export interface RubyPart {
  base: string;
  reading?: string;
}

const rubyMark = /\{([^{}|]+)\|([^{}|]+)\}/g;

/** Splits "{漢字|かんじ}を…" into parts with and without a reading. */
export function rubyParts(text: string): RubyPart[] {
  const parts: RubyPart[] = [];
  let last = 0;
  for (const m of text.matchAll(rubyMark)) {
    if (m.index > last) parts.push({ base: text.slice(last, m.index) });
    parts.push({ base: m[1]!, reading: m[2]! });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ base: text.slice(last) });
  return parts;
}

/** The text without readings: for aria-labels, attributes and comparisons. */
export function plainText(text: string): string {
  return text.replace(rubyMark, '$1');
}

// ---- completeness ------------------------------------------------------------------------------------

/**
 * Every word that is missing or empty, as "language area.key" (e.g. "vi ui.touchCard",
 * "ko reasons.revoked.hint", "es errors.SYNC_LIMIT", "en ui.staffSync"). The test expects none.
 */
export function missingWords(): string[] {
  const missing: string[] = [];
  const staffOnly = new Set<string>(staffOnlyKeys);
  for (const key of Object.keys(ui) as UiKey[]) {
    for (const language of ['ja', 'en'] as const)
      if (!present(ui[key][language])) missing.push(`${language} ui.${key}`);
  }
  for (const code of ReasonCodes)
    for (const language of ['ja', 'en'] as const) {
      if (!present(reasonWords[code]?.headline[language]))
        missing.push(`${language} reasons.${code}.headline`);
      if (!present(reasonWords[code]?.hint[language])) missing.push(`${language} reasons.${code}.hint`);
    }
  for (const code of ErrorCodes)
    for (const language of ['ja', 'en'] as const)
      if (!present(errorWords[code]?.[language])) missing.push(`${language} errors.${code}`);
  for (const language of Languages) {
    if (language === 'ja' || language === 'en') continue;
    const own = translations[language];
    for (const key of Object.keys(ui) as UiKey[]) {
      if (staffOnly.has(key)) continue;
      if (!present((own.ui as Partial<Record<UiKey, Text>>)[key])) missing.push(`${language} ui.${key}`);
    }
    for (const code of ReasonCodes) {
      if (!present(own.reasons[code]?.headline)) missing.push(`${language} reasons.${code}.headline`);
      if (!present(own.reasons[code]?.hint)) missing.push(`${language} reasons.${code}.hint`);
    }
    for (const code of ErrorCodes) if (!present(own.errors[code])) missing.push(`${language} errors.${code}`);
  }
  return missing;
}
