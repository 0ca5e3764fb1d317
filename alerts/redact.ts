/**
 * Recipient secrets out of what people read (issue 12, item 14). A webhook URL often carries its
 * key in the path or query (Slack, DingTalk, WeCom, Feishu…), and phone numbers are personal data;
 * both used to be written into alert and incident events (`recipient`), hence shown to every
 * viewer in alert details and the excursion report. Now a URL is kept as its scheme and host
 * (`https://hooks.example.com/…`: no user info, path, query or fragment) and a phone number as
 * its last 4 digits (`…8000`). The full values live in the config only, which only the
 * service's owner reads; nobody sees them through the API, the board or a report.
 */
const URL_PATTERN = /\b([a-z][a-z0-9+.-]*):\/\/[^\s<>"']+/gi;
/** +86 138 0013 8000, (021) 5555-1234, 13800138000: 7 or more digits with the usual separators. */
const PHONE_PATTERN = /(?<![\w.])\+?\d(?:[\d\s().-]{5,}\d)(?![\w.])/g;

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return '(a URL)';
  }
}

export function redactPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length < 7 ? phone : `…${digits.slice(-4)}`;
}

/** A text (an attempt's outcome, say) with every URL in it redacted. */
export function redactUrls(text: string): string {
  return text.replace(URL_PATTERN, redactUrl);
}

/** A recipient (`name <address>`) with every URL and phone number in it redacted; e-mail addresses stay. */
export function redactRecipient(text: string): string;
export function redactRecipient(text: string | undefined): string | undefined;
export function redactRecipient(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const urls: string[] = [];
  // URLs first (their digits are no phone number), parked so the phone pattern cannot touch them.
  const parked = text.replace(URL_PATTERN, (url) => `\u0000${urls.push(redactUrl(url)) - 1}\u0000`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL marks the placeholders this function itself put in
  return parked.replace(PHONE_PATTERN, (phone) => redactPhone(phone)).replace(/\u0000(\d+)\u0000/g, (_m, i: string) => urls[Number(i)]!);
}

/** An event as read by people: its recipient and outcome redacted (events recorded before the fix still hold them in full). */
export function redactEvent<E extends { recipient?: string | undefined; outcome?: string | undefined }>(event: E): E {
  if (event.recipient === undefined && event.outcome === undefined) return event;
  return {
    ...event,
    ...(event.recipient !== undefined ? { recipient: redactRecipient(event.recipient) } : {}),
    ...(event.outcome !== undefined ? { outcome: redactUrls(event.outcome) } : {}),
  };
}
