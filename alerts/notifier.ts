import nodemailer, { type Transporter } from 'nodemailer';
import type { Config, Recipient } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { sleep } from '../core/sleep.js';
import type { Alert } from './book.js';

export interface Attempt {
  channel: 'email' | 'webhook';
  recipient: string;
  outcome: string;
  ok: boolean;
}

const subject = (alert: Alert) => `[${alert.severity.toUpperCase()}] ${alert.kind.replace(/_/g, ' ')} at ${alert.locationId} (${alert.deviceId}) — ${alert.state}`;

function body(alert: Alert): string {
  return [
    `Alert ${alert.id}: ${alert.kind} (${alert.severity}), state ${alert.state}`,
    `Site ${alert.siteId}, location ${alert.locationId}, device ${alert.deviceId}`,
    `Occurred at ${new Date(alert.occurredAt).toISOString()} (device time)${alert.late ? ', detected late' : ''}`,
    `Threshold ${alert.threshold}, peak ${alert.peak}`,
    alert.clearedAt ? `Cleared at ${new Date(alert.clearedAt).toISOString()}` : 'Not cleared yet. Please acknowledge.',
  ].join('\n');
}

/** E-mail over SMTP and JSON webhooks (e.g. an SMS gateway), each attempt reported with its outcome. */
export class Notifier {
  private readonly mail: Transporter | undefined;

  constructor(
    private readonly config: Config['notifications'],
    private readonly log: Logger,
  ) {
    const smtp = config.smtp;
    this.mail = smtp ? nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: smtp.secure, ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}), tls: { rejectUnauthorized: false } }) : undefined;
  }

  async notify(alert: Alert, recipients: Recipient[], reason: string): Promise<Attempt[]> {
    const attempts: Array<Promise<Attempt>> = [];
    for (const recipient of recipients) {
      if (recipient.email) attempts.push(this.email(alert, recipient.name, recipient.email));
      if (recipient.webhook) attempts.push(this.webhook(alert, recipient.name, recipient.webhook, reason));
    }
    return Promise.all(attempts);
  }

  private async email(alert: Alert, name: string, address: string): Promise<Attempt> {
    const recipient = `${name} <${address}>`;
    if (!this.mail) return { channel: 'email', recipient, ok: false, outcome: 'failed: no notifications.smtp configured' };
    try {
      const info = await this.mail.sendMail({ from: this.config.smtp!.from, to: recipient, subject: subject(alert), text: body(alert) });
      return { channel: 'email', recipient, ok: true, outcome: `delivered: ${info.response}` };
    } catch (err) {
      this.log.warn({ err: (err as Error).message, recipient, alert: alert.id }, 'alert e-mail failed');
      return { channel: 'email', recipient, ok: false, outcome: `failed: ${(err as Error).message}` };
    }
  }

  private async webhook(alert: Alert, name: string, url: string, reason: string): Promise<Attempt> {
    const recipient = `${name} <${url}>`;
    let last = '';
    for (let attempt = 0; attempt <= this.config.webhookRetries; attempt++) {
      if (attempt > 0) await sleep(250 * 2 ** (attempt - 1));
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason, recipient: name, alert, text: subject(alert) }), signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.ok) return { channel: 'webhook', recipient, ok: true, outcome: `delivered: HTTP ${response.status}${attempt ? ` after ${attempt} retries` : ''}` };
        last = `HTTP ${response.status}`;
      } catch (err) {
        last = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      }
    }
    this.log.warn({ recipient, alert: alert.id, error: last }, 'alert webhook failed after retries');
    return { channel: 'webhook', recipient, ok: false, outcome: `failed after ${this.config.webhookRetries + 1} attempts: ${last}` };
  }

  close(): void {
    this.mail?.close();
  }
}
