/** The calendar day (YYYY-MM-DD) of `ts` in an IANA time zone: what "once a day" means at a site. */
export const localDay = (ts: number, timeZone: string): string =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ts);

/** The wall-clock time (HH:MM, 24 h) of `ts` in an IANA time zone, comparable as text with a configured "HH:MM". */
export const localClock = (ts: number, timeZone: string): string =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ts);
