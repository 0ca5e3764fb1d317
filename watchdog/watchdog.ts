import { hostname } from 'node:os';
import nodemailer, { type Transporter } from 'nodemailer';
import { redactPhone, redactRecipient } from '../alerts/redact.js';
import { sendSms } from '../alerts/sms.js';
import type { Logger } from '../core/logger.js';
import { sleep } from '../core/sleep.js';
import type { WatchdogConfig } from './config.js';

/** One look at `/healthz`: ok, or why not in words (refused, timed out, answered 503 …). */
export interface Check {
  ok: boolean;
  at: number;
  reason: string;
}

export type WatchdogEvent = 'down' | 'reminder' | 'up';

/** What went out for one event: per recipient and channel, delivered or not. */
export interface Delivery {
  channel: 'email' | 'webhook' | 'sms';
  recipient: string;
  ok: boolean;
  outcome: string;
}

/** Polls `/healthz` once: a 200 with status ok is up, anything else is down with its reason. */
export async function checkHealth(url: string, timeoutMs: number): Promise<Check> {
  const at = Date.now();
  const target = new URL('/healthz', url);
  try {
    const response = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), headers: { 'User-Agent': 'coldchain-watchdog' } });
    const body = (await response.json().catch(() => undefined)) as { status?: string; components?: Record<string, { ready?: boolean }> } | undefined;
    if (response.ok && body?.status === 'ok') return { ok: true, at, reason: 'ok' };
    const notReady = Object.entries(body?.components ?? {})
      .filter(([, c]) => c.ready === false)
      .map(([name]) => name);
    return { ok: false, at, reason: `answered HTTP ${response.status}${notReady.length ? ` (not ready: ${notReady.join(', ')})` : ''}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { ok: false, at, reason: `no answer within ${timeoutMs} ms` };
    return { ok: false, at, reason: `unreachable (${e.cause?.code ?? e.message})` };
  }
}

const when = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, ' UTC')
    .replace('T', ' ');

function minutes(ms: number): { en: string; zh: string } {
  const m = Math.max(1, Math.round(ms / 60_000));
  if (ms < 60_000) {
    const s = Math.round(ms / 1000);
    return { en: `${s} s`, zh: `${s} 秒` };
  }
  return { en: `${m} min`, zh: `${m} 分钟` };
}

/** The message of an event in English and 简体中文: a person reads it on a phone, so names and times, no codes. */
export function watchdogText(
  event: WatchdogEvent,
  facts: { name: string; url: string; since: number; now: number; reason: string; watcher: string },
): { subject: string; en: string; zh: string } {
  const down = minutes(facts.now - facts.since);
  const origin = new URL(facts.url).origin;
  if (event === 'up') {
    return {
      subject: `RECOVERED: ${facts.name} is answering again / 已恢复：${facts.name} 恢复响应`,
      en: `${facts.name} (${origin}) is answering again since ${when(facts.now)}, after ${down.en} down (from ${when(facts.since)}). Check that readings arrived for the time it was away (devices upload their backlog).`,
      zh: `${facts.name}（${origin}）已于 ${when(facts.now)} 恢复响应，此前中断 ${down.zh}（自 ${when(facts.since)} 起）。请检查中断期间的数据是否已补传。`,
    };
  }
  const again = event === 'reminder';
  return {
    subject: `${again ? 'STILL DOWN' : 'DOWN'}: ${facts.name} is not answering / ${again ? '仍未恢复' : '监控系统失联'}：${facts.name}`,
    en: `${facts.name} (${origin}) has not answered its health check since ${when(facts.since)} (${down.en}): ${facts.reason}. Temperatures are not being monitored or alarmed from there. Check the server's power and network, then restart the service. Seen by the watchdog on ${facts.watcher}.`,
    zh: `${facts.name}（${origin}）自 ${when(facts.since)} 起未通过健康检查（已 ${down.zh}）：${facts.reason}。温湿度目前无人监控、无法报警。请检查服务器电源和网络，然后重启服务。报警来自看门狗主机 ${facts.watcher}。`,
  };
}

/**
 * `coldchain watchdog`: watches the service from a second host. Down after `downAfter` failed
 * checks in a row (or failing that long); then one alarm per outage to every recipient by each of
 * its channels, a reminder every `remindEvery` while it stays down, and a recovery message when it
 * answers again. A flapping service that never stays down long enough raises nothing.
 */
export class Watchdog {
  private failures = 0;
  private firstFailure = 0;
  private alarmedAt = 0;
  private lastSentAt = 0;
  private readonly mail?: Transporter;
  private readonly watcher = hostname();

  constructor(
    private readonly config: WatchdogConfig & { url: string },
    private readonly log: Logger,
    /** Called after each event's messages went out (tests and the CLI's log). */
    private readonly onEvent: (event: WatchdogEvent, deliveries: Delivery[]) => void = () => {},
  ) {
    const smtp = config.smtp;
    if (smtp)
      this.mail = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
      });
  }

  /** Polls until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.log.info(
      { url: this.config.url, intervalMs: this.config.interval, downAfter: this.config.downAfter, recipients: this.config.recipients.length },
      'watchdog started',
    );
    while (!signal.aborted) {
      const started = Date.now();
      await this.step(await checkHealth(this.config.url, this.config.timeout));
      await sleep(Math.max(0, this.config.interval - (Date.now() - started)), signal);
    }
    this.mail?.close();
    this.log.info('watchdog stopped');
  }

  /** One check's consequences. */
  async step(check: Check): Promise<void> {
    if (check.ok) {
      this.log.debug('health check ok');
      if (this.alarmedAt) {
        const since = this.firstFailure;
        this.log.info({ downSince: new Date(since).toISOString() }, 'service answers again');
        this.reset();
        await this.send('up', since, check.at, 'ok');
      } else if (this.failures) {
        this.log.info({ failures: this.failures }, 'service answers again before it counted as down');
        this.reset();
      }
      return;
    }
    if (!this.failures) this.firstFailure = check.at;
    this.failures++;
    this.log.warn({ failures: this.failures, reason: check.reason }, 'health check failed');
    const { downAfter } = this.config;
    const down = 'checks' in downAfter ? this.failures >= downAfter.checks : check.at - this.firstFailure >= downAfter.forMs;
    if (!down) return;
    if (!this.alarmedAt) {
      this.alarmedAt = check.at;
      await this.send('down', this.firstFailure, check.at, check.reason);
    } else if (check.at - this.lastSentAt >= this.config.remindEvery) {
      await this.send('reminder', this.firstFailure, check.at, check.reason);
    }
  }

  private reset() {
    this.failures = 0;
    this.firstFailure = 0;
    this.alarmedAt = 0;
    this.lastSentAt = 0;
  }

  private async send(event: WatchdogEvent, since: number, now: number, reason: string): Promise<void> {
    this.lastSentAt = now;
    const text = watchdogText(event, { name: this.config.name, url: this.config.url, since, now, reason, watcher: this.watcher });
    const payload = {
      source: 'coldchain-watchdog',
      event,
      service: { name: this.config.name, url: new URL(this.config.url).origin },
      downSince: new Date(since).toISOString(),
      at: new Date(now).toISOString(),
      reason: event === 'up' ? null : reason,
      watcher: this.watcher,
      text: { en: text.en, 'zh-CN': text.zh },
    };
    const attempts: Array<Promise<Delivery>> = [];
    for (const r of this.config.recipients) {
      if (r.email) attempts.push(this.email(r.name, r.email, text));
      if (r.webhook) attempts.push(this.webhook(r.name, r.webhook, payload));
      if (r.phone) attempts.push(this.sms(r.name, r.phone, text));
    }
    const deliveries = await Promise.all(attempts);
    for (const d of deliveries) (d.ok ? this.log.info.bind(this.log) : this.log.error.bind(this.log))({ event, ...d }, `watchdog ${event} message`);
    this.onEvent(event, deliveries);
  }

  private async email(name: string, address: string, text: { subject: string; en: string; zh: string }): Promise<Delivery> {
    const recipient = `${name} <${address}>`;
    try {
      const info = await this.mail!.sendMail({ from: this.config.smtp!.from, to: recipient, subject: text.subject, text: `${text.en}\n\n${text.zh}\n` });
      return { channel: 'email', recipient, ok: true, outcome: `delivered: ${info.response}` };
    } catch (err) {
      return { channel: 'email', recipient, ok: false, outcome: `failed: ${(err as Error).message}` };
    }
  }

  private async webhook(name: string, url: string, payload: unknown): Promise<Delivery> {
    // The URL's key stays out of the log: its host names it well enough.
    const recipient = redactRecipient(`${name} <${url}>`);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'coldchain-watchdog' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(10_000),
      });
      return {
        channel: 'webhook',
        recipient,
        ok: response.ok,
        outcome: response.ok ? `delivered: HTTP ${response.status}` : `failed: HTTP ${response.status}`,
      };
    } catch (err) {
      return { channel: 'webhook', recipient, ok: false, outcome: `failed: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}` };
    }
  }

  private async sms(name: string, phone: string, text: { en: string; zh: string }): Promise<Delivery> {
    const result = await sendSms(this.config.sms!, phone, { en: text.en, 'zh-CN': text.zh });
    return { channel: 'sms', recipient: `${name} <${redactPhone(phone)}>`, ...result };
  }
}
