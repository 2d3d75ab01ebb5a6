// A typed error as staff read it: the words in their language, with the code for a support call.
import { KioskError } from '../../../base/errors.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { errorText } from '../i18n.js';

export function useErrorText(language: StaffLanguage) {
  return (error: unknown) =>
    error instanceof KioskError ? `${errorText(error.code, language)} (${error.code})` : String(error);
}
