// Words of the screens themselves (codes' words are in main/api/messages.ts). Japanese first.
import type { Words } from '../../main/api/messages.js';
import { errorWords, reasonWords } from '../../main/api/messages.js';
import type { ErrorCode } from '../../base/errors.js';
import type { ReasonCode } from '../../base/decision.js';
import type { AnnulReasons, Language } from '../../main/api/contract.js';
import type { SiteKind } from '../../base/decision.js';

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
  persons: { ja: '人', en: 'people' },
  receptionWelcome: { ja: '受付', en: 'Reception' },
  receptionDone: {
    ja: '保険資格を確認しました。受付でお待ちください',
    en: 'Insurance confirmed. Please wait at the desk',
  },
  kioskTitle: { ja: 'マルチコピー機 各種証明書', en: 'Certificate service' },
  kioskMenu: { ja: 'サービスを選んでください', en: 'Choose a service' },
  kioskResident: { ja: '住民票の写し', en: 'Residence certificate' },
  kioskSeal: { ja: '印鑑登録証明書', en: 'Seal registration certificate' },
  kioskTax: { ja: '課税証明書', en: 'Tax certificate' },
  kioskChosen: {
    ja: 'を選びました。この端末は見本のため印刷しません',
    en: ' selected. This demonstration terminal does not print',
  },
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
  seconds: { ja: '秒', en: 's' },
  kioskDontLeave: {
    ja: '終了するまでカードと書類をお持ちください',
    en: 'Keep your card with you until you finish',
  },
  pinTitle: { ja: '暗証番号（4桁）を押してください', en: 'Enter your 4-digit PIN' },
  pinTriesLeft: { ja: 'あと{n}回間違えるとロックされます', en: '{n} tries left before the PIN locks' },
  pinRetry: { ja: '暗証番号が違いました', en: 'That PIN was not correct' },
  pinBlocked: { ja: '暗証番号がロックされています', en: 'The PIN is locked' },
  pinCancel: { ja: 'やめる', en: 'Cancel' },
  pinDelete: { ja: '消す', en: 'Delete' },
  pinOk: { ja: '決定', en: 'OK' },
  switchLanguage: { ja: 'English', en: '日本語' },
  switchLanguageLabel: { ja: 'Switch to English', en: '日本語に切り替える' },
  staff: { ja: '係員', en: 'Staff' },
  staffLocked: {
    ja: '係員の暗証番号を入力するか、係員カードをタッチしてください',
    en: 'Enter the staff PIN or touch a staff card',
  },
  staffUseCard: { ja: '係員カードで解除', en: 'Unlock with a staff card' },
  staffWaitCard: { ja: '係員カードをタッチしてください', en: 'Touch the staff card now' },
  staffLock: { ja: 'ロックする', en: 'Lock' },
  staffClose: { ja: '閉じる', en: 'Close' },
  staffStatus: { ja: '端末の状態', en: 'Terminal status' },
  staffRecent: { ja: '最近の判定', en: 'Recent decisions' },
  staffAnnul: { ja: '取消', en: 'Annul' },
  staffReverse: { ja: '取消を戻す', en: 'Undo annul' },
  staffAnnulled: { ja: '取消済み', en: 'Annulled' },
  staffSync: { ja: '今すぐ同期', en: 'Sync now' },
  staffSite: { ja: '用途とゲート', en: 'Site and gate' },
  staffVolume: { ja: '音量', en: 'Volume' },
  staffRoster: { ja: '避難者名簿', en: 'Shelter roster' },
  staffRegister: { ja: '未登録者を登録', en: 'Register this person' },
  staffName: { ja: '氏名', en: 'Name' },
  staffHouseholdId: { ja: '世帯番号', en: 'Household ID' },
  staffReception: { ja: '受付システムへ送信', en: 'Send to reception system' },
  staffSent: { ja: '送信しました', en: 'Sent' },
  staffDetails: { ja: '資格情報', en: 'Qualification details' },
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
} satisfies Record<string, Words>;

export type UiKey = keyof typeof ui;

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

export function t(key: UiKey, language: Language, vars: Record<string, string | number> = {}): string {
  let text = ui[key][language];
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function reasonHeadline(code: ReasonCode, language: Language): string {
  return reasonWords[code].headline[language];
}
export function reasonHint(code: ReasonCode, language: Language): string {
  return reasonWords[code].hint[language];
}
export function errorText(code: ErrorCode, language: Language): string {
  return errorWords[code][language];
}
