import { z } from 'zod';
import { durationMs } from '../duration.js';
import { alertRulesSchema, suppressionSchema } from './alert-rules.js';
import { alarmsSchema } from './alarm-policy.js';
import { sensorCalibrationSchema } from '../../calibration/schema.js';
import { stabilitySchema } from '../../stability/schema.js';

/** Identifiers appear in MQTT topics and InfluxDB tags, so they are kept to a safe alphabet. */
export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters of letters, digits, "-", "_" or "." and start with a letter or digit');

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone (config, `?tz=`). */
export const timeZoneSchema = z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or UTC');

const port = z.number().int().min(0).max(65535);

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}
const hashedSecret = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 hex digits (written by the CLI, never a plain token)');

const range = z.object({ min: z.number(), max: z.number() }).refine((r) => r.min < r.max, { message: 'min must be below max' });

export const productProfileSchema = z
  .object({
    id: identifier,
    name: z.string().optional(),
    temperature: range.describe('°C range the product must stay in'),
    humidity: range.optional().describe('%RH range, when humidity matters'),
    mktActivationEnergyKJ: z.number().positive().default(83.144).describe('Activation energy for mean kinetic temperature (USP <1160>), kJ/mol.'),
    alerts: alertRulesSchema.prefault({}),
    stability: stabilitySchema.optional(),
  })
  .superRefine((profile, ctx) => {
    // Each allowance names a band outside the range, on one side of it (stability/README.md).
    const { min, max } = profile.temperature;
    profile.stability?.allowances.forEach((a, i) => {
      const above = a.from >= max;
      if (!above && a.to > min)
        ctx.addIssue({
          code: 'custom',
          path: ['stability', 'allowances', i],
          message: `the band ${a.from}…${a.to} °C overlaps the range ${min}–${max} °C; an allowance is a band above it (from ≥ ${max}) or below it (to ≤ ${min})`,
        });
      else if (!above && a.weighting === 'mkt')
        ctx.addIssue({ code: 'custom', path: ['stability', 'allowances', i, 'weighting'], message: 'mkt weighting applies to bands above the range only' });
    });
    const ids = profile.stability?.allowances.map((a) => a.id) ?? [];
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['stability', 'allowances', i, 'id'], message: `duplicate allowance id "${id}"` });
    });
    const freeze = profile.stability?.freeze;
    if (freeze && freeze.below > min)
      ctx.addIssue({
        code: 'custom',
        path: ['stability', 'freeze', 'below'],
        message: `a freeze threshold (${freeze.below} °C) must not lie inside the range ${min}–${max} °C`,
      });
  });

export const locationKinds = ['cold_room', 'freezer', 'ambient_zone', 'vehicle_compartment'] as const;

export const locationSchema = z.object({
  id: identifier,
  name: z.string().optional(),
  kind: z.enum(locationKinds),
  profile: identifier,
  areaM2: z.number().positive().optional(),
  volumeM3: z.number().positive().optional(),
  alerts: z.record(z.string(), z.unknown()).optional().describe("Overrides of the profile's alert rules for this location only (any subset of its keys)."),
  suppress: z.array(suppressionSchema).default([]),
});

/** An SMTP relay for nodemailer (the service's alarms and the watchdog's share this shape). */
export const smtpSchema = z.object({
  host: z.string(),
  port: port.default(25),
  secure: z.boolean().default(false),
  user: z.string().optional(),
  password: z.string().optional(),
  from: z.string(),
});

/** Who is told about an alert, and at which escalation tier (1 first). */
export const recipientSchema = z
  .object({
    name: z.string().min(1),
    tier: z.number().int().min(1).max(5).default(1),
    email: z.email().optional(),
    webhook: z.url().optional().describe('JSON POST (e.g. a paging gateway).'),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'write a phone number in E.164 form, e.g. +8613800138000')
      .optional()
      .describe('SMS through notifications.sms, in E.164 form.'),
  })
  .refine((r) => r.email || r.webhook || r.phone, { message: 'a recipient needs an email, a webhook or a phone' });

/**
 * SMS through a provider's own HTTP API. The secret (Alibaba Cloud AccessKey secret, Twilio auth
 * token) is read from the environment variable `secretEnv`, never written in this file.
 */
export const smsSchema = z.discriminatedUnion('provider', [
  z.object({
    provider: z.literal('aliyun'),
    endpoint: z.url().default('https://dysmsapi.aliyuncs.com/').describe('The SendSms endpoint.'),
    accessKeyId: z.string().min(1).describe('The AccessKey ID (its secret comes from secretEnv).'),
    regionId: z.string().default('cn-hangzhou').describe('The region of the SMS service.'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Alibaba Cloud writes template variables as ${name}
    signName: z.string().min(1).describe('The approved SMS signature (签名) and a template with a ${title} variable (模板).'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: as above
    templateCode: z.string().min(1).describe('An approved template with a ${title} variable (模板).'),
    secretEnv: z.string().default('COLDCHAIN_SMS_SECRET').describe('The environment variable holding the AccessKey secret.'),
  }),
  z.object({
    provider: z.literal('twilio'),
    endpoint: z.url().default('https://api.twilio.com').describe('The API base URL.'),
    accountSid: z
      .string()
      .regex(/^AC[0-9a-f]{32}$/, 'a Twilio account SID is AC followed by 32 hex digits')
      .describe('The account SID (its auth token comes from secretEnv).'),
    from: z.string().min(1).describe('The sending number or messaging service.'),
    lang: z.enum(['en', 'zh-CN', 'both']).default('both').describe('Language of the message body.'),
    secretEnv: z.string().default('COLDCHAIN_SMS_SECRET').describe('The environment variable holding the auth token.'),
  }),
]);

export const siteSchema = z.object({
  id: identifier,
  name: z.string().optional(),
  recipients: z.array(recipientSchema).default([]),
  kind: z.enum(['warehouse', 'vehicle']).default('warehouse'),
  vehicleType: z.string().optional().describe("For vehicles: e.g. 'reefer truck'; GSP records name the vehicle type."),
  plate: z.string().optional(),
  locations: z.array(locationSchema).min(1),
});

export const deviceSchema = z.object({
  // cc/v1/alerts/# carries alerts to people: a device of that name would publish into it.
  id: identifier.refine((id) => id !== 'alerts', '"alerts" is reserved (cc/v1/alerts/# carries alarms); pick another device id'),
  location: identifier,
  interval: durationMs.default(60_000),
  tokenHash: hashedSecret,
  name: z.string().optional(),
  calibration: sensorCalibrationSchema.optional().describe('Model, serial, declared accuracy and calibration certificates (coldchain calibration add).'),
});

export const apiRoles = ['admin', 'operator', 'qa', 'viewer'] as const;

const scryptHash = z.string().regex(/^scrypt\$/, 'must be an scrypt hash written by "coldchain user add", never a plain password');
const isoTime = z.iso.datetime({ offset: true });

/** People who sign: printed name for e-signatures, password stored as an scrypt hash. */
export const userSchema = z.object({
  name: identifier,
  fullName: z.string().min(1),
  role: z.enum(apiRoles),
  passwordHash: scryptHash,
  passwordSetAt: isoTime.optional().describe('When the password was set (coldchain user add/password); it expires accounts.passwordMaxAge later.'),
  previousHashes: z.array(scryptHash).max(5).optional().describe('scrypt hashes of the last passwords, which may not be used again (never shown).'),
  disabledAt: isoTime.optional().describe('Set by coldchain user disable: the user cannot sign in, sign or log in over MQTT.'),
});
export const apiTokenSchema = z.object({
  id: identifier,
  role: z.enum(apiRoles),
  tokenHash: hashedSecret,
  createdAt: z.string().optional(),
  expiresAt: isoTime.optional().describe('After this the token is refused (absent: a service token that never expires).'),
  service: z.string().optional().describe('What a never-expiring service token is for (coldchain token create --expires never --service).'),
  revokedAt: isoTime.optional().describe('Set by coldchain token revoke: kept for the record, refused from then on.'),
});
/** 21 CFR 11.300: password ageing and idle board sessions. */
export const accountsSchema = z
  .object({
    passwordMaxAge: durationMs.prefault('180d').describe('A password older than this cannot sign in or sign until it is changed (0: never expires).'),
    sessionIdle: durationMs.prefault('30m').describe('A board session unused this long is ended (its live stream closed).'),
  })
  .prefault({});

/** Transport steps (GDP 9, GSP cold-chain transport): the pre-cooling check of each loading. */
export const shipmentsSettingsSchema = z
  .object({
    preCooling: z
      .object({
        action: z
          .enum(['off', 'warn', 'refuse'])
          .default('warn')
          .describe(
            'What a loading into a compartment that was not within the product range for minDuration before does: warn (recorded and shown), refuse (409), off (not checked).',
          ),
        minDuration: durationMs
          .prefault('30m')
          .refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, 'must be between 1m and 7d')
          .describe("How long before loading the compartment's stored readings must show it within the product's range."),
      })
      .prefault({}),
  })
  .prefault({});

const tlsListener = z.object({ port, cert: z.string(), key: z.string(), ca: z.string().optional() });

export const configSchema = z
  .object({
    dataDir: z.string().default('./data').describe('Spool, managed InfluxDB, audit trail, keys and logs live here (relative to this file).'),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
    mqtt: z
      .object({
        host: z.string().default('0.0.0.0').describe('Address the MQTT listener binds.'),
        port: port.default(1883).describe('MQTT port (0 picks a free one, logged at start).'),
        tls: tlsListener.optional(),
        websocket: z.object({ port, path: z.string().default('/mqtt') }).optional(),
        maxPacketBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024)
          .describe('MQTT packets above this size close the connection before they are buffered whole.'),
        ratePerDevice: z.number().positive().default(50).describe('Sustained messages per second per device; bursts above it are delayed, never dropped.'),
        rateBurst: z
          .number()
          .int()
          .positive()
          .default(500)
          .describe('Messages a device may send in a burst above its sustained rate (delayed, never dropped).'),
        /** Incoming QoS 2 messages awaiting PUBREL the broker keeps (broker/qos2.ts): per client id, and in all. */
        qos2InFlight: z
          .object({
            perClient: z.number().int().min(1).max(65535).default(32).describe('QoS 2 messages awaiting PUBREL kept per client id.'),
            totalMessages: z.number().int().min(1).default(10_000).describe('QoS 2 messages awaiting PUBREL kept in all.'),
            totalBytes: z
              .number()
              .int()
              .min(64 * 1024)
              .default(64 * 1024 * 1024)
              .describe('Bytes of QoS 2 messages awaiting PUBREL kept in all.'),
          })
          .prefault({}),
      })
      .prefault({}),
    http: z
      .object({
        host: z.string().default('127.0.0.1').describe('Loopback by default: plain HTTP elsewhere needs `tls` (or `allowPlainHttp`).'),
        port: port.default(8080).describe('HTTP(S) port of the API and the board (0 picks a free one).'),
        tls: z
          .object({ cert: z.string(), key: z.string() })
          .optional()
          .describe('HTTPS: PEM certificate (chain) and key, relative to this file; `coldchain init` writes a self-signed pair under dataDir/tls.'),
        allowPlainHttp: z
          .boolean()
          .default(false)
          .describe('Plain HTTP on a non-loopback address sends passwords and tokens in clear: only behind a TLS-terminating proxy.'),
        publicUrl: z.url().optional().describe('How receivers reach this service (verification links, QR codes); default http(s)://<host>:<port>.'),
      })
      .superRefine((http, ctx) => {
        if (!http.tls && !http.allowPlainHttp && !isLoopbackHost(http.host)) {
          ctx.addIssue({
            code: 'custom',
            path: ['host'],
            message: `plain HTTP on ${http.host} (not loopback) would carry passwords and tokens in clear: set http.tls: { cert, key } (coldchain init writes a self-signed pair under the data directory), listen on 127.0.0.1, or set http.allowPlainHttp: true behind a TLS-terminating proxy`,
          });
        }
      })
      .prefault({}),
    board: z
      .object({
        tileUrl: z
          .string()
          .regex(/\{z\}.*\{x\}.*\{y\}/, 'must contain {z}, {x} and {y}')
          .optional()
          .describe('Map tiles for the fleet view, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; without, tracks on a blank map.'),
        tileAttribution: z.string().default('').describe('Attribution shown with the map tiles.'),
      })
      .prefault({}),
    reports: z
      .object({
        timeZone: timeZoneSchema.default('UTC').describe('Times on reports are shown in this IANA zone, e.g. Asia/Shanghai.'),
        lang: z.enum(['en', 'zh-CN']).default('en').describe('Default language of reports and labels.'),
        workers: z.number().int().min(1).max(32).optional().describe('Worker threads that build reports; default half the cores (1 on 2 cores), at most 4.'),
        queue: z.number().int().min(0).max(1000).default(2).describe('Report requests that may wait for a worker; more are answered 429 with Retry-After.'),
        maxRows: z.number().int().min(1000).default(2_000_000).describe('Readings one report may read in all; more is refused (422 report_too_large).'),
        timeout: durationMs.prefault('2m').describe('A report taking longer is abandoned (503 report_timeout) and its worker replaced.'),
      })
      .prefault({}),
    influx: z
      .object({
        url: z.url().optional().describe('Absent: the service runs its own influxd under dataDir.'),
        database: identifier.default('coldchain').describe('The InfluxDB database.'),
        token: z.string().optional().describe('InfluxDB 2.x/3.x API token (better: $COLDCHAIN_INFLUX_TOKEN).'),
        username: z.string().optional().describe('InfluxDB 1.x user of an external InfluxDB.'),
        password: z.string().optional().describe('Its password.'),
        retention: durationMs
          .prefault('1830d')
          .describe(
            'How long InfluxDB keeps records (GSP: at least 5 years). A shorter value never deletes anything by itself: coldchain retention shorten does, signed and audited.',
          ),
        retentionFloor: durationMs
          .prefault('1825d')
          .describe('The shortest retention this configuration may ask for (5 years, GSP); lower it only where no pharma rule applies.'),
        createDatabase: z.boolean().default(true).describe('Create the database and retention policy at start.'),
      })
      .refine((influx) => influx.retention >= influx.retentionFloor, {
        path: ['retention'],
        message: 'shorter than influx.retentionFloor (GSP asks to keep records at least 5 years)',
      })
      .prefault({}),
    ingest: z
      .object({
        maxPayloadBytes: z
          .number()
          .int()
          .min(256)
          .default(256 * 1024)
          .describe('Larger payloads are quarantined as payload_too_large.'),
        maxBatchReadings: z.number().int().positive().default(5000).describe('A batch (store-and-forward upload) may hold at most this many readings.'),
        maxFutureSkew: durationMs.prefault('5m').describe('Device clocks further ahead than this are rejected.'),
        maxPastAge: durationMs.prefault('30d').describe('Store-and-forward backlog accepted up to this age.'),
      })
      .prefault({}),
    spool: z
      .object({
        segmentBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .default(32 * 1024 * 1024)
          .describe('Size of one spool segment file.'),
        writeLinger: durationMs.prefault('100ms').describe('How long the writer may wait to gather a larger batch while the spool is nearly empty.'),
        retryMax: durationMs.prefault('30s').describe('Longest wait between InfluxDB write retries.'),
      })
      .prefault({}),
    notifications: z
      .object({
        smtp: smtpSchema.optional(),
        tierDelays: z
          .array(durationMs)
          .min(1)
          .prefault(['0s', '15m', '30m'])
          .describe('Tier n is notified when an alert is still unacknowledged this long after it became active.'),
        reminderEvery: durationMs.prefault('30m').describe('Unacknowledged incidents are sent again this often.'),
        webhookRetries: z.number().int().min(0).max(10).default(3).describe('Retries of a webhook before it is recorded as failed.'),
        sms: smsSchema.optional(),
      })
      .prefault({}),
    compliance: z
      .enum(['none', 'gsp'])
      .default('none')
      .describe(
        "gsp: the configuration must meet China GSP's alarm clauses, checked at load — every site's first tier reaches at least 3 people by SMS, through a configured provider.",
      ),
    alarms: alarmsSchema.prefault({}),
    /** The daily backup (GSP): the whole record once a day into `dir` (relative to this file), the newest `keep` kept. */
    backup: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().default('./backups'),
        at: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'write a time of day as HH:MM')
          .default('02:30'),
        keep: z.number().int().min(1).default(14),
      })
      .prefault({}),
    profiles: z.array(productProfileSchema).default([]).describe('Product profiles: ranges and alert rules.'),
    sites: z.array(siteSchema).default([]).describe('Sites (warehouses, vehicles) and their places.'),
    devices: z.array(deviceSchema).default([]).describe('Registered devices (coldchain device add).'),
    apiTokens: z.array(apiTokenSchema).default([]).describe('HTTP API tokens, stored hashed (coldchain token create).'),
    users: z.array(userSchema).default([]).describe('People who sign, passwords stored as scrypt (coldchain user add).'),
    accounts: accountsSchema,
    shipments: shipmentsSettingsSchema,
  })
  .superRefine((config, ctx) => {
    const profileIds = new Set<string>();
    config.profiles.forEach((profile, i) => {
      if (profileIds.has(profile.id)) ctx.addIssue({ code: 'custom', path: ['profiles', i, 'id'], message: `duplicate profile id "${profile.id}"` });
      profileIds.add(profile.id);
    });
    const locationIds = new Set<string>();
    const siteIds = new Set<string>();
    config.sites.forEach((site, s) => {
      if (siteIds.has(site.id)) ctx.addIssue({ code: 'custom', path: ['sites', s, 'id'], message: `duplicate site id "${site.id}"` });
      siteIds.add(site.id);
      site.locations.forEach((location, l) => {
        if (locationIds.has(location.id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['sites', s, 'locations', l, 'id'],
            message: `duplicate location id "${location.id}" (location ids are unique across sites)`,
          });
        }
        locationIds.add(location.id);
        if (!profileIds.has(location.profile)) {
          ctx.addIssue({
            code: 'custom',
            path: ['sites', s, 'locations', l, 'profile'],
            message: `unknown profile "${location.profile}"; known: ${[...profileIds].join(', ') || 'none'}`,
          });
        }
        const profile = config.profiles.find((p) => p.id === location.profile);
        if (profile && location.alerts) {
          const merged = effectiveRules(profile, location);
          if (!merged.success)
            for (const issue of merged.error.issues)
              ctx.addIssue({
                code: 'custom',
                path: ['sites', s, 'locations', l, 'alerts', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
                message: issue.message,
              });
        }
        if ((site.kind === 'vehicle') !== (location.kind === 'vehicle_compartment')) {
          ctx.addIssue({
            code: 'custom',
            path: ['sites', s, 'locations', l, 'kind'],
            message:
              site.kind === 'vehicle' ? 'a vehicle holds only vehicle_compartment locations' : 'vehicle_compartment belongs under a site of kind vehicle',
          });
        }
      });
    });
    if (config.compliance === 'gsp') {
      if (!config.notifications.sms)
        ctx.addIssue({
          code: 'custom',
          path: ['notifications', 'sms'],
          message: 'compliance gsp: alarms go by SMS (GSP annex: to at least 3 designated people); configure a provider (aliyun or twilio)',
        });
      config.sites.forEach((site, s) => {
        const people = new Set(site.recipients.filter((r) => r.tier === 1 && r.phone).map((r) => r.phone));
        if (people.size < 3)
          ctx.addIssue({
            code: 'custom',
            path: ['sites', s, 'recipients'],
            message: `compliance gsp: the first tier must reach at least 3 people by SMS; site "${site.id}" reaches ${people.size} (recipients with tier 1 and a phone)`,
          });
      });
    }
    const deviceIds = new Set<string>();
    config.devices.forEach((device, i) => {
      if (deviceIds.has(device.id)) ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate device id "${device.id}"` });
      deviceIds.add(device.id);
      if (!locationIds.has(device.location)) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'location'],
          message: `unknown location "${device.location}"; known: ${[...locationIds].join(', ') || 'none'}`,
        });
      }
    });
  });

/** A location's rules: its profile's, with the location's overrides on top (severity merged key by key). */
export function effectiveRules(profile: ProductProfile, location: Pick<Location, 'alerts'>) {
  const override = (location.alerts ?? {}) as Record<string, unknown>;
  const severity = { ...profile.alerts.severity, ...((override.severity as object | undefined) ?? {}) };
  return alertRulesSchema.safeParse({ ...profile.alerts, ...override, severity });
}

export type Config = z.infer<typeof configSchema>;
export type ProductProfile = z.infer<typeof productProfileSchema>;
export type Site = z.infer<typeof siteSchema>;
export type Location = z.infer<typeof locationSchema>;
export type Device = z.infer<typeof deviceSchema>;
export type ApiRole = (typeof apiRoles)[number];
export type User = z.infer<typeof userSchema>;
export type Recipient = z.infer<typeof recipientSchema>;
export type ApiToken = z.infer<typeof apiTokenSchema>;
export type Accounts = z.infer<typeof accountsSchema>;
export type ShipmentsSettings = z.infer<typeof shipmentsSettingsSchema>;
