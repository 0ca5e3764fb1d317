import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { decode } from '@msgpack/msgpack';

/**
 * The one module that talks to InfluxDB. It speaks only the v1 HTTP API (`/write` with line
 * protocol, `/query` with InfluxQL), which InfluxDB 1.x, 2.x (v1 compatibility) and 3.x Core serve.
 */
export interface InfluxTarget {
  url: string;
  database: string;
  /** 2.x/3.x API token (sent as "Authorization: Token …"). */
  token?: string;
  username?: string;
  password?: string;
}

export type InfluxErrorKind = 'unreachable' | 'rejected' | 'auth' | 'not_found' | 'server' | 'timeout';

export class InfluxError extends Error {
  constructor(
    readonly kind: InfluxErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'InfluxError';
  }

  /** Worth retrying later: nothing in the request itself is wrong. */
  get retryable(): boolean {
    return this.kind !== 'rejected';
  }
}

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

interface QueryResponse {
  results?: Array<{ series?: Series[]; error?: string; partial?: boolean }>;
  error?: string;
}

export class InfluxClient {
  /** Keep-alive connections for writes (idle ones do not hold the process open). */
  private agent: HttpAgent | undefined;

  constructor(
    readonly target: InfluxTarget,
    private readonly timeoutMs = 10_000,
  ) {}

  private headers(): Record<string, string> {
    const { token, username, password } = this.target;
    if (token) return { Authorization: `Token ${token}` };
    if (username) return { Authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
    return {};
  }

  private async request(pathAndQuery: string, init: RequestInit): Promise<Response> {
    const url = new URL(pathAndQuery, this.target.url);
    try {
      return await fetch(url, {
        ...init,
        headers: { ...this.headers(), ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      if ((err as Error).name === 'TimeoutError') throw new InfluxError('timeout', `InfluxDB at ${url.origin} did not answer within ${this.timeoutMs} ms`);
      throw new InfluxError('unreachable', `InfluxDB at ${url.origin} unreachable (${cause})`);
    }
  }

  private static async failure(response: Response, what: string): Promise<InfluxError> {
    const body = isMsgpack(response) ? JSON.stringify(decode(new Uint8Array(await response.arrayBuffer()))) : (await response.text().catch(() => '')).trim();
    return InfluxClient.failureOf(response.status, body, what);
  }

  private static failureOf(status: number, body: string, what: string): InfluxError {
    let message = body;
    try {
      message = (JSON.parse(body) as { error?: string }).error ?? body;
    } catch {
      // plain-text error bodies are used as they are
    }
    const text = `${what} failed: HTTP ${status}${message ? `: ${message}` : ''}`;
    if (status === 401 || status === 403) return new InfluxError('auth', text, status);
    if (status === 404) return new InfluxError('not_found', text, status);
    if (status === 400 || status === 413 || status === 422) return new InfluxError('rejected', text, status);
    return new InfluxError('server', text, status);
  }

  /**
   * Writes line protocol with nanosecond timestamps (a string, or the spool's bytes as they are).
   * Throws InfluxError; `rejected` means do not retry. Through node:http rather than fetch: fetch
   * copies a byte body twice on its way to the socket (undici and web streams), 2 MiB a batch.
   */
  write(lines: string | Uint8Array): Promise<void> {
    const url = new URL(`/write?${new URLSearchParams({ db: this.target.database, precision: 'ns' })}`, this.target.url);
    const secure = url.protocol === 'https:';
    this.agent ??= secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const headers = { ...this.headers(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(lines)) };
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: InfluxError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      };
      const request = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', agent: this.agent, headers }, (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (err: Error & { code?: string }) =>
          fail(new InfluxError('unreachable', `InfluxDB at ${url.origin} unreachable (${err.code ?? err.name})`)),
        );
        response.on('end', () => {
          if (settled) return;
          if (status === 204 || status === 200) {
            settled = true;
            clearTimeout(timer);
            resolve();
            return;
          }
          const bytes = Buffer.concat(chunks);
          const msgpack = (response.headers['content-type'] ?? '').startsWith('application/x-msgpack');
          let body: string;
          try {
            body = msgpack ? JSON.stringify(decode(bytes)) : bytes.toString('utf8').trim();
          } catch {
            body = '';
          }
          fail(InfluxClient.failureOf(status, body, 'write'));
        });
      });
      const timer = setTimeout(() => {
        fail(new InfluxError('timeout', `InfluxDB at ${url.origin} did not answer within ${this.timeoutMs} ms`));
        request.destroy();
      }, this.timeoutMs).unref();
      request.on('error', (err: Error & { code?: string }) =>
        fail(new InfluxError('unreachable', `InfluxDB at ${url.origin} unreachable (${err.code ?? err.name})`)),
      );
      request.end(lines);
    });
  }

  /**
   * Runs InfluxQL; times come back as epoch milliseconds, or with `exact` as nanoseconds that keep
   * every digit (bigints from MessagePack, decimal strings from JSON) and so do integer fields:
   * what a backup needs to give back every point as it was.
   */
  async query(influxql: string, options: { database?: string | null; method?: 'GET' | 'POST'; exact?: boolean } = {}): Promise<Series[]> {
    const params = new URLSearchParams({ q: influxql, epoch: options.exact ? 'ns' : 'ms' });
    if (options.database !== null) params.set('db', options.database ?? this.target.database);
    // Statements that change state (CREATE ...) must be POSTed; reads use GET as the brief asks.
    const method = options.method ?? 'GET';
    // InfluxDB 1.x encodes MessagePack in about half the time it takes for JSON (a month of
    // readings for a report is hundreds of thousands of rows); servers without it answer JSON.
    const headers = { Accept: 'application/x-msgpack, application/json;q=0.5' };
    const response =
      method === 'GET'
        ? await this.request(`/query?${params}`, { method, headers })
        : await this.request('/query', { method, body: params, headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' } });
    if (response.status !== 200) throw await InfluxClient.failure(response, 'query');
    const body = (
      isMsgpack(response)
        ? decode(new Uint8Array(await response.arrayBuffer()), { useBigInt64: options.exact ?? false })
        : options.exact
          ? JSON.parse(quoteLongIntegers(await response.text()))
          : await response.json()
    ) as QueryResponse;
    if (body.error) throw new InfluxError('rejected', `query failed: ${body.error}`);
    const series: Series[] = [];
    for (const result of body.results ?? []) {
      if (result.error) throw new InfluxError('rejected', `query failed: ${result.error}`);
      // A result cut at the server's max-row-limit would be silently wrong data for any caller.
      // (Series flagged partial inside a complete result are normal: they were merged from chunks.)
      if (result.partial) throw new InfluxError('server', 'query result truncated by InfluxDB (max-row-limit); raise [http] max-row-limit or set it to 0');
      series.push(...(result.series ?? []));
    }
    return series;
  }

  async ping(): Promise<boolean> {
    try {
      const response = await this.request('/ping', { method: 'GET' });
      await response.arrayBuffer();
      return response.status === 204 || response.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * Creates the database and makes `retentionName` its default policy, idempotently. An existing
   * policy is lengthened but never shortened here: a shorter duration deletes records, which only
   * `shortenRetention` does (a signed, audited admin command). Returns the policy's duration.
   */
  async ensureDatabase(retentionMs: number, retentionName = 'coldchain_retention'): Promise<{ retentionMs: number; kept?: number }> {
    const db = quoteIdentifier(this.target.database);
    await this.query(`CREATE DATABASE ${db}`, { database: null, method: 'POST' });
    const existing = await this.retention(retentionName);
    if (existing !== undefined && existing >= retentionMs) {
      await this.query(`ALTER RETENTION POLICY ${quoteIdentifier(retentionName)} ON ${db} DEFAULT`, { database: null, method: 'POST' });
      return existing > retentionMs ? { retentionMs: existing, kept: existing } : { retentionMs: existing };
    }
    await this.setRetention(retentionMs, retentionName, existing !== undefined);
    return { retentionMs };
  }

  /** The duration of a retention policy of the database (ms; Infinity for INF), or undefined when it has none of that name. */
  async retention(retentionName = 'coldchain_retention'): Promise<number | undefined> {
    const policies = await this.query(`SHOW RETENTION POLICIES ON ${quoteIdentifier(this.target.database)}`, { database: null });
    const row = policies[0]?.values.find((r) => r[0] === retentionName);
    if (!row) return undefined;
    const text = String(row[1]);
    if (text === '0s') return Infinity;
    const [, h = '0', m = '0', sec = '0'] = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text) ?? [];
    return ((Number(h) * 60 + Number(m)) * 60 + Number(sec)) * 1000;
  }

  /** Deletes what is older than the new, shorter duration: only for the signed admin command (cli/retention.ts). */
  async shortenRetention(retentionMs: number, retentionName = 'coldchain_retention'): Promise<void> {
    await this.setRetention(retentionMs, retentionName, true);
  }

  private async setRetention(retentionMs: number, retentionName: string, exists: boolean): Promise<void> {
    const hours = Math.ceil(retentionMs / 3_600_000);
    await this.query(
      `${exists ? 'ALTER' : 'CREATE'} RETENTION POLICY ${quoteIdentifier(retentionName)} ON ${quoteIdentifier(this.target.database)} DURATION ${hours}h REPLICATION 1 DEFAULT`,
      { database: null, method: 'POST' },
    );
  }
}

const isMsgpack = (response: Response) => (response.headers.get('content-type') ?? '').startsWith('application/x-msgpack');

/**
 * How many compactions influxd runs now (`SHOW STATS`, its `tsm1_engine` counters), of one
 * database or of all. Right after a bulk write influxd 1.6 compacts the new files: the tests wait
 * for that before comparing counts, the bench before measuring latency.
 */
export async function compactionsActive(influx: InfluxClient, database?: string): Promise<number> {
  let active = 0;
  for (const s of await influx.query('SHOW STATS', { database: null })) {
    if (s.name !== 'tsm1_engine' || (database !== undefined && s.tags?.database !== database)) continue;
    s.columns.forEach((column, i) => {
      if (/CompactionsActive$/.test(column)) active += Number(s.values[0]?.[i] ?? 0);
    });
  }
  return active;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Rows of one series as objects keyed by column name. */
export function rowsOf(series: Series | undefined): Array<Record<string, unknown>> {
  if (!series) return [];
  return series.values.map((row) => Object.fromEntries(series.columns.map((column, i) => [column, row[i]])));
}

/**
 * JSON numbers are doubles: nanosecond times (19 digits) lose their last digits in JSON.parse.
 * Integer literals of 16 or more digits outside strings become decimal strings first.
 */
export function quoteLongIntegers(json: string): string {
  let out = '';
  let i = 0;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      out += json.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < json.length && /[0-9eE.+-]/.test(json[j]!)) j++;
      const literal = json.slice(i, j);
      out += /^-?\d{16,}$/.test(literal) ? `"${literal}"` : literal;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
