import nodemailer, { type Transporter } from 'nodemailer';
import type { Config, Recipient } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { sleep } from '../core/sleep.js';
import type { Alert } from './book.js';
import type { Incident } from './incident.js';
import { sendSms } from './sms.js';
import type { AlarmText, Lang } from './text.js';
import { redactRecipient, redactUrls } from './redact.js';

export interface Attempt {
  channel: 'email' | 'webhook' | 'sms';
  recipient: string;
  outcome: string;
  ok: boolean;
}

/** An incident's text in both languages: recipients have no language setting, so everyone gets both. */
export type AlarmTexts = Record<Lang, AlarmText>;

export interface DigestEntry {
  incident: Incident;
  text: AlarmTexts;
}

const fieldLabels: Record<Lang, Record<Exclude<keyof AlarmText, 'title'>, string>> = {
  en: { what: 'What', where: 'Where', since: 'When', howFar: 'How far', action: 'What to do', trend: 'Trend (last hour)' },
  'zh-CN': { what: '情况', where: '地点', since: '时间', howFar: '超标程度', action: '处理措施', trend: '趋势（过去1小时）' },
};

/** The service's reasons ("tier 2", "reminder") in words. */
function reasonWords(reason: string, lang: Lang): string {
  const tier = /^tier (\d+)$/.exec(reason);
  if (tier) return lang === 'en' ? `escalation tier ${tier[1]}` : `第 ${tier[1]} 级通知`;
  if (reason === 'reminder') return lang === 'en' ? 'reminder: not yet acknowledged' : '提醒：尚未确认';
  if (reason === 'digest') return lang === 'en' ? 'daily digest' : '每日汇总';
  return reason;
}

function block(text: AlarmText, lang: Lang, link: string, reason?: string): string {
  const labels = fieldLabels[lang];
  const sep = lang === 'en' ? ': ' : '：';
  const lines = [text.title, '', ...(Object.keys(labels) as Array<keyof typeof labels>).map((key) => `${labels[key]}${sep}${text[key]}`)];
  if (reason) lines.push(`${lang === 'en' ? 'Sent as' : '通知原因'}${sep}${reasonWords(reason, lang)}`);
  lines.push('', lang === 'en' ? `Open it on the board and acknowledge with your signature: ${link}` : `在看板上查看并签名确认：${link}`);
  return lines.join('\n');
}

// The legacy per-alert message, kept until alerts/service.ts notifies per incident.
const legacySubject = (alert: Alert) =>
  `[${alert.severity.toUpperCase()}] ${alert.kind.replace(/_/g, ' ')} at ${alert.locationId} (${alert.deviceId}) — ${alert.state}`;

function legacyBody(alert: Alert): string {
  return [
    `Alert ${alert.id}: ${alert.kind} (${alert.severity}), state ${alert.state}`,
    `Site ${alert.siteId}, location ${alert.locationId}, device ${alert.deviceId}`,
    `Occurred at ${new Date(alert.occurredAt).toISOString()} (device time)${alert.late ? ', detected late' : ''}`,
    `Threshold ${alert.threshold}, peak ${alert.peak}`,
    alert.clearedAt ? `Cleared at ${new Date(alert.clearedAt).toISOString()}` : 'Not cleared yet. Please acknowledge.',
  ].join('\n');
}

/**
 * E-mail over SMTP and JSON webhooks (e.g. an SMS gateway), one message per incident, each
 * attempt reported with its outcome. SMTP certificates are verified: an alarm channel that
 * accepts any certificate can be intercepted.
 */
export class Notifier {
  private readonly mail: Transporter | undefined;

  /**
   * `publicUrl` (config `http.publicUrl`, or where the service listens: a function, as that is
   * known only once HTTP listens) makes the incident link in messages absolute.
   */
  constructor(
    private readonly config: Config['notifications'],
    private readonly log: Logger,
    private readonly publicUrl?: string | (() => string),
  ) {
    const smtp = config.smtp;
    this.mail = smtp
      ? nodemailer.createTransport({
          host: smtp.host,
          port: smtp.port,
          secure: smtp.secure,
          ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
        })
      : undefined;
  }

  /** Where the board shows the incident. */
  link(incidentId: string): string {
    const base = typeof this.publicUrl === 'function' ? this.publicUrl() : (this.publicUrl ?? '');
    return `${base.replace(/\/+$/, '')}/#/alerts/${encodeURIComponent(incidentId)}`;
  }

  /**
   * One incident to its recipients: e-mail with the English title as subject and the text in
   * English then Chinese; webhook JSON `{ reason, recipient, incident, text }`.
   */
  notify(incident: Incident, text: AlarmTexts, recipients: Recipient[], reason: string): Promise<Attempt[]>;
  /** @deprecated per-alert message; use notify(incident, text, …) or notifyAlert. */
  notify(alert: Alert, recipients: Recipient[], reason: string): Promise<Attempt[]>;
  async notify(subject: Incident | Alert, a: AlarmTexts | Recipient[], b: Recipient[] | string, c?: string): Promise<Attempt[]> {
    if (Array.isArray(a)) return this.notifyAlert(subject as Alert, a, b as string);
    const incident = subject as Incident;
    const text = a;
    const recipients = b as Recipient[];
    const reason = c ?? '';
    const link = this.link(incident.id);
    const mailSubject = reason === 'reminder' ? `Reminder: ${text.en.title}` : text.en.title;
    const body = `${block(text.en, 'en', link, reason)}\n\n———— 中文 ————\n\n${block(text['zh-CN'], 'zh-CN', link, reason)}\n`;
    const attempts: Array<Promise<Attempt>> = [];
    for (const recipient of recipients) {
      if (recipient.email) attempts.push(this.email(recipient.name, recipient.email, mailSubject, body, { incident: incident.id }));
      if (recipient.webhook)
        attempts.push(this.webhook(recipient.name, recipient.webhook, { reason, recipient: recipient.name, incident, text }, { incident: incident.id }));
      if (recipient.phone)
        attempts.push(
          this.sms(
            recipient.name,
            recipient.phone,
            reason === 'reminder'
              ? { en: `Reminder: ${text.en.title}`, 'zh-CN': `提醒：${text['zh-CN'].title}` }
              : { en: text.en.title, 'zh-CN': text['zh-CN'].title },
          ),
        );
    }
    return Promise.all(attempts);
  }

  /** The per-alert message of before incidents existed (subject and body carry codes and ids). */
  async notifyAlert(alert: Alert, recipients: Recipient[], reason: string): Promise<Attempt[]> {
    const attempts: Array<Promise<Attempt>> = [];
    for (const recipient of recipients) {
      if (recipient.email) attempts.push(this.email(recipient.name, recipient.email, legacySubject(alert), legacyBody(alert), { alert: alert.id }));
      if (recipient.webhook)
        attempts.push(
          this.webhook(recipient.name, recipient.webhook, { reason, recipient: recipient.name, alert, text: legacySubject(alert) }, { alert: alert.id }),
        );
    }
    return Promise.all(attempts);
  }

  /**
   * A message that is not one of the site's incidents, e.g. to a shipment's consignee
   * (shipments/consignee-notices.ts): the same e-mail and SMS channels, each attempt reported.
   */
  async message(recipient: { name: string; email?: string; phone?: string }, subject: string, body: string, title: Record<Lang, string>): Promise<Attempt[]> {
    return Promise.all([
      ...(recipient.email ? [this.email(recipient.name, recipient.email, subject, body, { message: subject })] : []),
      ...(recipient.phone ? [this.sms(recipient.name, recipient.phone, title)] : []),
    ]);
  }

  /**
   * The day's digest-only incidents of one site: one e-mail per recipient listing them, and one
   * webhook post `{ reason: 'digest', recipient, site, entries: [{ incident, text }] }`. Nothing
   * is sent for an empty list.
   */
  /** An SMS through notifications.sms (Alibaba Cloud or Twilio), with the alarm's one-line title. */
  private async sms(name: string, phone: string, title: { en: string; 'zh-CN': string }): Promise<Attempt> {
    // Who was told, as the event trail keeps it: the number's last digits only (alerts/redact.ts).
    const recipient = redactRecipient(`${name} <${phone}>`);
    if (!this.config.sms) return { channel: 'sms', recipient, ok: false, outcome: 'failed: no notifications.sms configured' };
    const result = await sendSms(this.config.sms, phone, title);
    if (!result.ok) this.log.warn({ recipient, outcome: result.outcome }, 'alarm SMS failed');
    return { channel: 'sms', recipient, ok: result.ok, outcome: result.ok ? `delivered: ${result.outcome}` : `failed: ${result.outcome}` };
  }

  async digest(siteName: string, entries: DigestEntry[], recipients: Recipient[]): Promise<Attempt[]> {
    if (entries.length === 0) return [];
    const list = (lang: Lang) =>
      entries
        .map(({ incident, text }, i) => {
          const t = text[lang];
          const sep = lang === 'en' ? ': ' : '：';
          const labels = fieldLabels[lang];
          return [
            `${i + 1}. ${t.title}`,
            `   ${labels.since}${sep}${t.since}`,
            `   ${labels.what}${sep}${t.what}`,
            `   ${labels.action}${sep}${t.action}`,
            `   ${this.link(incident.id)}`,
          ].join('\n');
        })
        .join('\n\n');
    const n = entries.length;
    const subject = `Daily alarm digest, ${siteName}: ${n} ${n === 1 ? 'item' : 'items'}`;
    const body = [
      `Daily alarm digest for ${siteName}: ${n} ${n === 1 ? 'item' : 'items'} that did not page anyone.`,
      '',
      list('en'),
      '',
      '———— 中文 ————',
      '',
      `${siteName} 每日报警汇总：共 ${n} 项（未触发呼叫通知）。`,
      '',
      list('zh-CN'),
      '',
    ].join('\n');
    const attempts: Array<Promise<Attempt>> = [];
    for (const recipient of recipients) {
      if (recipient.email) attempts.push(this.email(recipient.name, recipient.email, subject, body, { digest: siteName }));
      if (recipient.webhook)
        attempts.push(
          this.webhook(recipient.name, recipient.webhook, { reason: 'digest', recipient: recipient.name, site: siteName, entries }, { digest: siteName }),
        );
    }
    return Promise.all(attempts);
  }

  private async email(name: string, address: string, subject: string, text: string, about: Record<string, string>): Promise<Attempt> {
    const recipient = `${name} <${address}>`;
    if (!this.mail) return { channel: 'email', recipient, ok: false, outcome: 'failed: no notifications.smtp configured' };
    try {
      const info = await this.mail.sendMail({ from: this.config.smtp!.from, to: recipient, subject, text });
      return { channel: 'email', recipient, ok: true, outcome: `delivered: ${info.response}` };
    } catch (err) {
      this.log.warn({ err: (err as Error).message, recipient, ...about }, 'alarm e-mail failed');
      return { channel: 'email', recipient, ok: false, outcome: `failed: ${(err as Error).message}` };
    }
  }

  private async webhook(name: string, url: string, payload: unknown, about: Record<string, string>): Promise<Attempt> {
    // Who was told, as the event trail keeps it: the URL's host only; its key stays in the config (alerts/redact.ts).
    const recipient = redactRecipient(`${name} <${url}>`);
    const body = JSON.stringify(payload);
    let last = '';
    for (let attempt = 0; attempt <= this.config.webhookRetries; attempt++) {
      if (attempt > 0) await sleep(250 * 2 ** (attempt - 1));
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.ok)
          return { channel: 'webhook', recipient, ok: true, outcome: `delivered: HTTP ${response.status}${attempt ? ` after ${attempt} retries` : ''}` };
        last = `HTTP ${response.status}`;
      } catch (err) {
        last = redactUrls((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      }
    }
    this.log.warn({ recipient, ...about, error: last }, 'alarm webhook failed after retries');
    return { channel: 'webhook', recipient, ok: false, outcome: `failed after ${this.config.webhookRetries + 1} attempts: ${last}` };
  }

  close(): void {
    this.mail?.close();
  }
}
