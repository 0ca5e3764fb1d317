import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { localClock, localDay } from '../core/local-time.js';
import type { InfluxClient } from '../storage/influx.js';
import { createBackup, manifestSchema, type Manifest } from './backup.js';

export interface BackupSettings {
  /** Where backups go, one directory each (absolute). */
  dir: string;
  /** Local time of day (HH:MM in `timeZone`) of the daily backup. */
  at: string;
  timeZone: string;
  /** How many backups to keep; older ones are removed after a successful backup. */
  keep: number;
}

export interface BackupStatus {
  lastSuccessAt: number | null;
  lastFailure: { at: number; error: string } | null;
  running: boolean;
  /** No successful backup within 26 hours (a day and the time one takes): GSP's daily backup is missed. */
  overdue: boolean;
}

const DAY = 86_400_000;

/**
 * The daily backup (GSP: daily backup, records kept). Runs in the service at `at` local time,
 * once a day; a restart does not repeat a day's backup (the last one is read back from the
 * directory); a failure is logged, kept in the status (healthz, metrics) and tried again the next
 * check, so an outage of the destination costs hours, not a day.
 */
export class BackupScheduler {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<Manifest> | undefined;
  private lastSuccessAt: number | null = null;
  private lastFailure: { at: number; error: string } | null = null;
  private readonly startedAt: number;

  constructor(private readonly deps: { influx: InfluxClient; dataDir: string; configFile: string; settings: BackupSettings; log: Logger; now?: () => number }) {
    this.startedAt = this.now();
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  async start(): Promise<void> {
    this.lastSuccessAt = (await this.list()).at(-1)?.createdAt ?? null;
    this.timer = setInterval(() => void this.tick(), 30_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.current?.catch(() => undefined);
  }

  status(): BackupStatus {
    const now = this.now();
    const since = this.lastSuccessAt ?? this.startedAt;
    return {
      lastSuccessAt: this.lastSuccessAt,
      lastFailure: this.lastFailure,
      running: this.current !== undefined,
      overdue: now - since > DAY + 2 * 3_600_000,
    };
  }

  private due(now: number): boolean {
    const { timeZone, at } = this.deps.settings;
    if (localClock(now, timeZone) < at) return false;
    return this.lastSuccessAt === null || localDay(this.lastSuccessAt, timeZone) !== localDay(now, timeZone);
  }

  /** Backs up when due (called every 30 s). */
  async tick(): Promise<void> {
    if (this.current || !this.due(this.now())) return;
    await this.runNow().catch(() => undefined);
  }

  /** A backup now, whatever the time; one at a time. */
  runNow(): Promise<Manifest> {
    this.current ??= (async () => {
      const started = this.now();
      const name = new Date(started).toISOString().replace(/[:.]/g, '').slice(0, 17);
      const out = path.join(this.deps.settings.dir, name);
      // Only what this run created is cleaned up after a failure, never an earlier backup.
      const fresh = !existsSync(out);
      try {
        const manifest = await createBackup({ influx: this.deps.influx, dataDir: this.deps.dataDir, configFile: this.deps.configFile, out, now: started });
        this.lastSuccessAt = Date.parse(manifest.createdAt);
        this.lastFailure = null;
        this.deps.log.info({ out, points: manifest.measurements.reduce((n, m) => n + m.points, 0), ms: this.now() - started }, 'daily backup written');
        await this.prune();
        return manifest;
      } catch (err) {
        this.lastFailure = { at: this.now(), error: (err as Error).message };
        this.deps.log.error({ err: (err as Error).message, out }, 'daily backup failed; tried again within a minute');
        if (fresh) await rm(out, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      } finally {
        this.current = undefined;
      }
    })();
    return this.current;
  }

  /** The backups in the directory, oldest first (only directories with a readable manifest count). */
  async list(): Promise<Array<{ dir: string; createdAt: number }>> {
    const { dir } = this.deps.settings;
    if (!existsSync(dir)) return [];
    const found: Array<{ dir: string; createdAt: number }> = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      try {
        const manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(dir, entry.name, 'manifest.json'), 'utf8')));
        found.push({ dir: path.join(dir, entry.name), createdAt: Date.parse(manifest.createdAt) });
      } catch {
        // Not one of ours, or unfinished: never counted, never removed.
      }
    }
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  private async prune(): Promise<void> {
    const all = await this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.deps.settings.keep))) {
      await rm(old.dir, { recursive: true, force: true });
      this.deps.log.info({ dir: old.dir }, 'old backup removed (backup.keep)');
    }
  }
}
