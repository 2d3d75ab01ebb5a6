// Plain words for every code that can reach a screen, in Japanese and English. Patron-facing text is
// short, concrete and says what to do next; staff text names the part that failed. A unit test checks
// that every error code and every reason code has both languages (test/ui/messages.test.ts).
// Browser-safe.
import type { ErrorCode } from '../../base/errors.js';
import type { ReasonCode } from '../../base/decision.js';

export type Words = { ja: string; en: string };

/** What happened (headline) and what to do next (hint), for the patron. */
export interface ReasonWords {
  headline: Words;
  hint: Words;
}

export const reasonWords: Record<ReasonCode, ReasonWords> = {
  ok: {
    headline: { ja: '確認できました', en: 'Confirmed' },
    hint: { ja: 'お進みください', en: 'Please go ahead' },
  },
  not_registered: {
    headline: { ja: 'このカードは登録されていません', en: 'This card is not registered here' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  revoked: {
    headline: {
      ja: 'このカードの証明書は使えません（失効）',
      en: 'This card’s certificate has been revoked',
    },
    hint: {
      ja: 'お住まいの市区町村の窓口でご相談ください。係員にお声がけください',
      en: 'Please ask a staff member; your city office can renew it',
    },
  },
  cert_expired: {
    headline: { ja: 'カードの証明書の有効期限が切れています', en: 'The card’s certificate has expired' },
    hint: {
      ja: '市区町村の窓口で更新できます。係員にお声がけください',
      en: 'Your city office can renew it. Please ask a staff member',
    },
  },
  cert_not_yet_valid: {
    headline: { ja: 'カードの証明書はまだ使えません', en: 'The card’s certificate is not valid yet' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  cert_untrusted: {
    headline: { ja: 'このカードは確認できません', en: 'This card cannot be verified' },
    hint: { ja: 'マイナンバーカードをタッチしてください', en: 'Please touch your My Number Card' },
  },
  cert_tampered: {
    headline: { ja: 'このカードは確認できません', en: 'This card cannot be verified' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  card_auth_failed: {
    headline: { ja: 'カードを確認できませんでした', en: 'The card could not be confirmed' },
    hint: { ja: 'もう一度タッチしてください', en: 'Please touch the card again' },
  },
  pin_required: {
    headline: { ja: '暗証番号が必要です', en: 'Your PIN is needed' },
    hint: { ja: '4桁の暗証番号を押してください', en: 'Please enter your 4-digit PIN' },
  },
  pin_wrong: {
    headline: { ja: '暗証番号が違います', en: 'The PIN is not correct' },
    hint: { ja: 'もう一度タッチして入力してください', en: 'Touch the card again and re-enter the PIN' },
  },
  pin_blocked: {
    headline: { ja: '暗証番号がロックされています', en: 'The PIN is locked' },
    hint: {
      ja: '市区町村の窓口で解除できます。係員にお声がけください',
      en: 'Your city office can unlock it. Please ask a staff member',
    },
  },
  staff_visual_check: {
    headline: { ja: '係員が本人確認します', en: 'A staff member will check your card' },
    hint: { ja: 'その場でお待ちください', en: 'Please wait here' },
  },
  outside_time_window: {
    headline: { ja: '入場できる時間ではありません', en: 'Entry is not open at this time' },
    hint: { ja: '時間をご確認ください', en: 'Please check the time on your ticket' },
  },
  wrong_gate: {
    headline: { ja: 'このゲートではありません', en: 'This is not your gate' },
    hint: { ja: '券面のゲートへお進みください', en: 'Please go to the gate on your ticket' },
  },
  already_inside: {
    headline: { ja: 'すでに入場済みです', en: 'You have already entered' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  not_inside: {
    headline: { ja: '入場の記録がありません', en: 'There is no record of your entry' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  data_too_old: {
    headline: { ja: '確認用データが古いため判定できません', en: 'The check data is out of date' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  card_removed: {
    headline: { ja: 'カードが離れました', en: 'The card was moved away' },
    hint: {
      ja: 'もう一度タッチして、音が鳴るまで離さないでください',
      en: 'Touch again and hold it until you hear the sound',
    },
  },
  card_unreadable: {
    headline: { ja: 'カードを読み取れませんでした', en: 'The card could not be read' },
    hint: {
      ja: 'マイナンバーカードをもう一度タッチしてください',
      en: 'Please touch your My Number Card again',
    },
  },
  double_touch: {
    headline: { ja: 'さきほど確認済みです', en: 'Already checked a moment ago' },
    hint: { ja: 'お進みください', en: 'Please go ahead' },
  },
  entitlement_expired: {
    headline: { ja: '資格の有効期間が過ぎています', en: 'The entitlement has expired' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  entitlement_superseded: {
    headline: { ja: '新しい資格情報があります', en: 'A newer entitlement exists' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  unregistered_admitted: {
    headline: { ja: '受付しました（未登録）', en: 'Checked in (not yet registered)' },
    hint: { ja: '係員が登録しますのでお待ちください', en: 'Please wait: staff will register you' },
  },
  degraded: {
    headline: { ja: '確認しました（データ更新待ち）', en: 'Confirmed (data update pending)' },
    hint: { ja: 'お進みください', en: 'Please go ahead' },
  },
  clock_fault: {
    headline: { ja: '端末の時計に異常があります', en: 'The terminal’s clock is wrong' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  terminal_fault: {
    headline: { ja: '端末の不具合で確認できません', en: 'The terminal cannot check right now' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  ticket_invalid: {
    headline: { ja: 'このチケットは確認できません', en: 'This ticket cannot be verified' },
    hint: { ja: '係員にお声がけください', en: 'Please ask a staff member' },
  },
  ticket_not_accepted: {
    headline: { ja: 'ここではQRチケットは使えません', en: 'QR tickets are not accepted here' },
    hint: {
      ja: 'カードをタッチするか、係員にお声がけください',
      en: 'Touch your card, or ask a staff member',
    },
  },
};

/** Plain words for each error code: what is wrong, for staff and the out-of-service screen. */
export const errorWords: Record<ErrorCode, Words> = {
  CONFIG_INVALID: { ja: '設定ファイルに誤りがあります', en: 'The configuration file has an error' },
  CONFIG_NOT_FOUND: { ja: '設定ファイルが見つかりません', en: 'The configuration file is missing' },
  SECRET_MISSING: { ja: '暗証情報が設定されていません', en: 'A secret (PIN or key) is not set' },
  SECRET_INSECURE: {
    ja: '暗証情報のファイルが他人に読める状態です',
    en: 'A secret file can be read by other users',
  },
  PCSC_UNAVAILABLE: {
    ja: 'カードリーダーのサービスが動いていません',
    en: 'The card reader service is not running',
  },
  READER_NOT_FOUND: { ja: 'カードリーダーが見つかりません', en: 'No card reader is connected' },
  READER_GONE: { ja: 'カードリーダーが外れました', en: 'The card reader was disconnected' },
  CARD_ABSENT: { ja: 'カードがありません', en: 'No card on the reader' },
  CARD_REMOVED: { ja: '読み取り中にカードが離れました', en: 'The card was removed while reading' },
  CARD_TIMEOUT: { ja: 'カードの応答がありません', en: 'The card did not answer in time' },
  CARD_PROTOCOL: { ja: 'カードとの通信に失敗しました', en: 'Communication with the card failed' },
  CARD_NOT_JPKI: { ja: 'マイナンバーカードではありません', en: 'This is not a My Number Card' },
  CARD_FILE_NOT_FOUND: { ja: 'カードに必要な情報がありません', en: 'The card lacks a required file' },
  CARD_WRONG_LENGTH: { ja: 'カードの応答が不正です', en: 'The card gave an invalid answer' },
  CARD_SECURITY_STATUS: { ja: 'カードの認証が必要です', en: 'The card needs authentication first' },
  CARD_STATUS: { ja: 'カードがエラーを返しました', en: 'The card returned an error' },
  CARD_MALFORMED: { ja: 'カードのデータが壊れています', en: 'The card’s data is malformed' },
  CARD_FORBIDDEN_AID: {
    ja: '使用が禁止された領域へのアクセスを止めました',
    en: 'Access to a forbidden card application was stopped',
  },
  PIN_WRONG: { ja: '暗証番号が違います', en: 'The PIN is not correct' },
  PIN_BLOCKED: { ja: '暗証番号がロックされています', en: 'The PIN is locked' },
  PIN_FORMAT: { ja: '暗証番号は4桁の数字です', en: 'The PIN must be 4 digits' },
  TERMINAL_AUTH_FAILED: {
    ja: '端末認証に失敗しました',
    en: 'Terminal authentication with the card failed',
  },
  TERMINAL_AUTH_RATE_LIMITED: {
    ja: '暗証番号なしの認証が上限に達しました。しばらくお待ちください',
    en: 'PIN-less authentication is paused: too many in a short time',
  },
  HSM_UNAVAILABLE: {
    ja: 'セキュリティモジュールが使えません',
    en: 'The security module (HSM) is unavailable',
  },
  HSM_TOKEN_NOT_FOUND: {
    ja: 'セキュリティモジュールのトークンが見つかりません',
    en: 'The HSM token was not found',
  },
  HSM_LOGIN_FAILED: {
    ja: 'セキュリティモジュールにログインできません',
    en: 'Login to the HSM failed',
  },
  HSM_KEY_NOT_FOUND: { ja: '機関鍵が見つかりません', en: 'The institution key is missing from the HSM' },
  HSM_CERT_INVALID: { ja: '機関証明書が不正です', en: 'The institution certificate is invalid' },
  HSM_FAILED: { ja: 'セキュリティモジュールでエラーが起きました', en: 'The HSM reported an error' },
  STORE_UNAVAILABLE: { ja: '確認用データベースを開けません', en: 'The check database cannot be opened' },
  STORE_CORRUPT: { ja: '確認用データベースが壊れています', en: 'The check database is damaged' },
  DELTA_BAD_SIGNATURE: {
    ja: '更新データの署名が正しくありません',
    en: 'An update’s signature is not valid',
  },
  DELTA_WRONG_PUBLISHER: {
    ja: '更新データの発行元が違います',
    en: 'An update came from the wrong publisher',
  },
  DELTA_GAP: { ja: '更新データに抜けがあります', en: 'An update is missing in the sequence' },
  DELTA_DUPLICATE: { ja: '更新データが重複しています', en: 'An update was already applied' },
  DELTA_MALFORMED: { ja: '更新データが壊れています', en: 'An update is malformed' },
  SNAPSHOT_INVALID: { ja: '一括データが不正です', en: 'The data snapshot is invalid' },
  ROOT_INVALID: { ja: '発行元の鍵リストが不正です', en: 'The list of publisher keys is invalid' },
  ROOT_EXPIRED: {
    ja: '発行元の鍵リストの期限が切れています',
    en: 'The list of publisher keys has expired',
  },
  JOURNAL_BROKEN: { ja: '記録（ジャーナル）に不整合があります', en: 'The entry journal is inconsistent' },
  IMPORT_INVALID: { ja: '取り込みデータが不正です', en: 'The imported data is invalid' },
  SYNC_UNREACHABLE: { ja: '本部サーバーにつながりません', en: 'The hub cannot be reached' },
  SYNC_REFUSED: { ja: '本部サーバーが接続を拒否しました', en: 'The hub refused the connection' },
  SYNC_PROTOCOL: { ja: '本部サーバーとの通信が不正です', en: 'The hub answered in an unexpected way' },
  SYNC_ROLLBACK: {
    ja: '古いデータへの巻き戻しを拒否しました（攻撃の疑い）',
    en: 'Refused an answer that would roll data back (possible attack)',
  },
  SYNC_MIX_AND_MATCH: {
    ja: '別のデータが混ぜられた応答を拒否しました（攻撃の疑い）',
    en: 'Refused an answer mixing in other data (possible attack)',
  },
  SYNC_CHECKPOINT_INVALID: {
    ja: '本部サーバーの署名付き確認がない応答を拒否しました（攻撃の疑い）',
    en: 'Refused an answer without the hub’s signed checkpoint (possible attack)',
  },
  SYNC_REPLY_INVALID: {
    ja: '署名のない送信応答を拒否しました（攻撃の疑い）',
    en: 'Refused an unsigned upload reply (possible attack)',
  },
  SYNC_LIMIT: {
    ja: '上限を超える応答を拒否しました',
    en: 'Refused an answer beyond its size or time limit',
  },
  SYNC_CONTENT_INVALID: {
    ja: '配信キャッシュから届いたデータが署名と一致しません（攻撃の疑い）',
    en: 'Data from a distribution cache did not match the signed checkpoint (possible attack)',
  },
  DELEGATION_INVALID: {
    ja: '会場サーバーの委任が不正です（別の会場または期限切れ）',
    en: 'The venue hub’s delegation is invalid (another site, or expired)',
  },
  HUB_UNKNOWN_TERMINAL: {
    ja: 'この端末は本部に登録されていません',
    en: 'This terminal is not registered at the hub',
  },
  HUB_STATUS_AUTH: {
    ja: 'ハブの状況ページを見るにはアクセス用トークンが必要です',
    en: 'The hub status page needs its access token',
  },
  ENROL_CODE_UNKNOWN: {
    ja: '登録コードが見つかりません。入力し直すか、新しいコードを発行してください',
    en: 'Unknown enrolment code: type it again or have a new one issued',
  },
  ENROL_CODE_USED: {
    ja: 'この登録コードは使用済みです。新しいコードを発行してください',
    en: 'This enrolment code has already been used: have a new one issued',
  },
  ENROL_CODE_EXPIRED: {
    ja: 'この登録コードは有効期限切れです。新しいコードを発行してください',
    en: 'This enrolment code has expired: have a new one issued',
  },
  TRANSFER_CODE_UNKNOWN: {
    ja: '譲渡コードが見つかりません。もう一度入力してください',
    en: 'Unknown transfer code: type it again',
  },
  TRANSFER_CODE_USED: {
    ja: 'この譲渡コードは使用済みです',
    en: 'This transfer code has already been used',
  },
  TRANSFER_CODE_EXPIRED: {
    ja: 'この譲渡コードは有効期限切れです。購入者に新しいコードを依頼してください',
    en: 'This transfer code has expired: ask the purchaser for a new one',
  },
  TRANSFER_REFUSED: {
    ja: 'この座席は譲渡できません',
    en: 'This seat cannot be transferred',
  },
  ENROL_KEY_REGISTERED: {
    ja: 'この端末の鍵は別の端末として登録済みです',
    en: 'This terminal’s key is already registered for another terminal',
  },
  ENROL_PROOF_INVALID: {
    ja: '端末鍵の所持証明を確認できませんでした',
    en: 'The proof of possession of the terminal key does not verify',
  },
  HUB_TERMINAL_EXISTS: {
    ja: 'この端末IDは登録済みです（鍵の変更は鍵の更新で行います）',
    en: 'This terminal id is already registered (change its key with a key rotation)',
  },
  TERMINAL_DISABLED: {
    ja: 'この端末は本部により停止されています',
    en: 'This terminal has been disabled by the hub',
  },
  TERMINAL_RETIRING: {
    ja: 'この端末は廃止手続き中です（記録を送信してから個人データを消去します）',
    en: 'This terminal is being retired (it uploads its journal, then wipes personal data)',
  },
  TERMINAL_RETIRED: {
    ja: 'この端末は廃止されました',
    en: 'This terminal has been retired',
  },
  CRL_INVALID: { ja: '失効リストが不正です', en: 'The revocation list is invalid' },
  CRL_EXPIRED: {
    ja: '失効リストの有効期限（次回更新日時）が過ぎています',
    en: 'The revocation list has expired (its next update time has passed)',
  },
  CRL_SIGNER_USAGE: {
    ja: '失効リストの署名者の証明書にCRL署名の鍵用途がありません',
    en: 'The certificate that signed the revocation list may not sign revocation lists',
  },
  CRL_DELTA_BASE: {
    ja: '差分失効リストの基準となる完全な失効リストがありません',
    en: 'The complete revocation list this delta list is based on has not been imported',
  },
  CRL_PARTITIONED: {
    ja: '分割された失効リストです（許可されていない配布点）',
    en: 'The revocation list covers only one partition that has not been allowed',
  },
  CRL_UNSUPPORTED: {
    ja: '処理できない重要な拡張を含む失効リストです',
    en: 'The revocation list has a critical extension that cannot be processed',
  },
  HID_UNAVAILABLE: {
    ja: 'ゲート・表示灯が接続されていません',
    en: 'The gate or signal light is not connected',
  },
  HID_FAILED: { ja: 'ゲート・表示灯の操作に失敗しました', en: 'The gate or signal light did not respond' },
  ENTRY_UNKNOWN: {
    ja: 'ゲートの通過記録に対応する入場記録がありません',
    en: 'The gate reported a passage for an entry this terminal does not know',
  },
  SERVICE_UNAVAILABLE: {
    ja: 'このサービスは現在ご利用いただけません',
    en: 'This service is not available right now',
  },
  SERVICE_REFUSED: {
    ja: '発行元が証明書の発行を受け付けませんでした',
    en: 'The issuing office did not accept the request',
  },
  SERVICE_TIMEOUT: {
    ja: '発行元から応答がありませんでした',
    en: 'The issuing office did not answer in time',
  },
  SERVICE_PROTOCOL: {
    ja: '発行元の応答が正しくありません',
    en: 'The issuing office answered in an unexpected way',
  },
  SESSION_ENDED: { ja: 'ご利用は終了しました', en: 'The session has ended' },
  CARD_MISMATCH: {
    ja: '最初にタッチしたカードと違うカードです',
    en: 'This is not the card that started the session',
  },
  PRINTER_UNAVAILABLE: { ja: 'プリンターが使えません', en: 'The printer is not available' },
  PRINT_FAILED: { ja: '印刷できませんでした', en: 'The document could not be printed' },
  STAFF_LOCKED: { ja: '係員モードはロックされています', en: 'Staff mode is locked' },
  STAFF_CREDENTIAL_WRONG: {
    ja: '係員の暗証番号またはカードが違います',
    en: 'The staff PIN or card is not correct',
  },
  NOT_AVAILABLE: {
    ja: 'この端末の設定では使えない操作です',
    en: 'This action is not available on this terminal',
  },
  CLOCK_FAULT: { ja: '端末の時計に異常があります', en: 'The terminal’s clock is wrong' },
  INVALID_REQUEST: { ja: '操作の内容が不正です', en: 'The request was not valid' },
  INTERNAL: { ja: '端末内部でエラーが起きました', en: 'An internal error occurred' },
};
