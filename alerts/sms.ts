import { createHmac, randomUUID } from 'node:crypto';
import type { Config } from '../core/config/schema.js';

export type SmsSettings = NonNullable<Config['notifications']['sms']>;

/** What a provider answered: delivered to the provider (accepted for sending) or refused, with its words. */
export interface SmsOutcome {
  ok: boolean;
  outcome: string;
}

/**
 * Alibaba Cloud's percent-encoding for RPC signatures: RFC 3986 unreserved characters stay,
 * everything else is %XX in upper case (so "+" for a space, "*" and "~" differ from encodeURIComponent).
 */
export const aliyunEncode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Signature = Base64(HMAC-SHA1(secret + "&", method & encode("/") & encode(sorted, encoded query))). */
export function aliyunSignature(method: 'GET' | 'POST', params: Record<string, string>, accessKeySecret: string): string {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${aliyunEncode(k)}=${aliyunEncode(params[k]!)}`)
    .join('&');
  const stringToSign = `${method}&${aliyunEncode('/')}&${aliyunEncode(canonical)}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

/** The secret of a provider, from the environment variable the config names (never from the config itself). */
function secretOf(settings: SmsSettings): string | undefined {
  return process.env[settings.secretEnv];
}

/** Alibaba Cloud SMS `SendSms` (API version 2017-05-25), an RPC call signed with HMAC-SHA1. */
async function aliyun(
  settings: Extract<SmsSettings, { provider: 'aliyun' }>,
  secret: string,
  phone: string,
  templateParam: Record<string, string>,
): Promise<SmsOutcome> {
  const params: Record<string, string> = {
    AccessKeyId: settings.accessKeyId,
    Action: 'SendSms',
    Format: 'JSON',
    PhoneNumbers: phone.replace(/^\+86/, ''),
    RegionId: settings.regionId,
    SignName: settings.signName,
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: randomUUID(),
    SignatureVersion: '1.0',
    TemplateCode: settings.templateCode,
    TemplateParam: JSON.stringify(templateParam),
    Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    Version: '2017-05-25',
  };
  params.Signature = aliyunSignature('POST', params, secret);
  const response = await fetch(settings.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json().catch(() => ({}))) as { Code?: string; Message?: string; BizId?: string };
  if (response.ok && body.Code === 'OK') return { ok: true, outcome: `accepted by Alibaba Cloud SMS: BizId ${body.BizId ?? '?'}` };
  return { ok: false, outcome: `refused by Alibaba Cloud SMS: ${body.Code ?? `HTTP ${response.status}`}${body.Message ? ` (${body.Message})` : ''}` };
}

/** Twilio Messages API: a form POST with HTTP Basic auth (account SID and auth token). */
async function twilio(settings: Extract<SmsSettings, { provider: 'twilio' }>, secret: string, phone: string, text: string): Promise<SmsOutcome> {
  const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`, settings.endpoint);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${settings.accountSid}:${secret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ To: phone, From: settings.from, Body: text }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json().catch(() => ({}))) as { sid?: string; status?: string; code?: number; message?: string };
  if (response.status === 201 || response.status === 200) return { ok: true, outcome: `accepted by Twilio: ${body.sid ?? '?'} ${body.status ?? ''}`.trim() };
  return {
    ok: false,
    outcome: `refused by Twilio: HTTP ${response.status}${body.code ? ` error ${body.code}` : ''}${body.message ? ` (${body.message})` : ''}`,
  };
}

/**
 * One SMS through the configured provider. `title` is the alarm's one-line title in each language:
 * Alibaba Cloud sends it into the approved template's `${title}` variable (Chinese), Twilio as the body.
 */
export async function sendSms(settings: SmsSettings, phone: string, title: { en: string; 'zh-CN': string }): Promise<SmsOutcome> {
  const secret = secretOf(settings);
  if (!secret) return { ok: false, outcome: `not sent: environment variable ${settings.secretEnv} (notifications.sms.secretEnv) holds no secret` };
  try {
    if (settings.provider === 'aliyun') return await aliyun(settings, secret, phone, { title: title['zh-CN'] });
    return await twilio(
      settings,
      secret,
      phone,
      settings.lang === 'zh-CN' ? title['zh-CN'] : settings.lang === 'en' ? title.en : `${title.en}\n${title['zh-CN']}`,
    );
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    return { ok: false, outcome: `not sent: ${settings.provider === 'aliyun' ? 'Alibaba Cloud SMS' : 'Twilio'} unreachable (${cause})` };
  }
}
